// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/bitcoin/coin_selection.h>
#include <tracering/schemas/coin_selection_generated.h>

#include "producer/emit.h"

namespace tracering::bitcoin::coin_selection {
namespace {

using detail::FieldOf;
using detail::TableLayout;
using detail::fb::F;
namespace cs = tracering::coin_selection;

using Selected = cs::SelectedCoins;
constexpr auto SELECTED = TableLayout(
    FieldOf(Selected::VT_WALLET_NAME, &Selected::wallet_name),
    FieldOf(Selected::VT_ALGO, &Selected::algo), FieldOf(Selected::VT_TARGET, &Selected::target),
    FieldOf(Selected::VT_WASTE, &Selected::waste),
    FieldOf(Selected::VT_SELECTED_VALUE, &Selected::selected_value));

using Normal = cs::NormalCreateTxInternal;
constexpr auto NORMAL = TableLayout(FieldOf(Normal::VT_WALLET_NAME, &Normal::wallet_name),
                                    FieldOf(Normal::VT_SUCCESS, &Normal::success),
                                    FieldOf(Normal::VT_FEE, &Normal::fee),
                                    FieldOf(Normal::VT_CHANGE_POS, &Normal::change_pos));

using Attempting = cs::AttemptingApsCreateTx;
constexpr auto ATTEMPTING =
    TableLayout(FieldOf(Attempting::VT_WALLET_NAME, &Attempting::wallet_name));

using Aps = cs::ApsCreateTxInternal;
constexpr auto APS =
    TableLayout(FieldOf(Aps::VT_WALLET_NAME, &Aps::wallet_name),
                FieldOf(Aps::VT_USE_APS, &Aps::use_aps), FieldOf(Aps::VT_SUCCESS, &Aps::success),
                FieldOf(Aps::VT_FEE, &Aps::fee), FieldOf(Aps::VT_CHANGE_POS, &Aps::change_pos));

} // namespace

void selected_coins(const char* wallet_name, const char* algo, int64_t target, int64_t waste,
                    int64_t selected_value) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::CoinSelectionSelectedCoins);
    if (!writer) return;
    const uint32_t wallet_len = detail::fb::StrLen(wallet_name);
    const uint32_t algo_len = detail::fb::StrLen(algo);
    const uint64_t end =
        detail::fb::StringEnd(detail::fb::StringEnd(SELECTED.fixed_size, wallet_len), algo_len);
    detail::EmitTable<SELECTED>(writer, EventType::CoinSelectionSelectedCoins, end, 0,
                                [=](auto& t) {
                                    t.String(F<0>, wallet_name, wallet_len);
                                    t.String(F<1>, algo, algo_len);
                                    t.Scalar(F<2>, target);
                                    t.Scalar(F<3>, waste);
                                    t.Scalar(F<4>, selected_value);
                                });
}

void normal_create_tx_internal(const char* wallet_name, bool success, int64_t fee,
                               int32_t change_pos) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::CoinSelectionNormalCreateTxInternal);
    if (!writer) return;
    const uint32_t wallet_len = detail::fb::StrLen(wallet_name);
    detail::EmitTable<NORMAL>(writer, EventType::CoinSelectionNormalCreateTxInternal,
                              detail::fb::StringEnd(NORMAL.fixed_size, wallet_len), 0,
                              [=](auto& t) {
                                  t.String(F<0>, wallet_name, wallet_len);
                                  t.Bool(F<1>, success);
                                  t.Scalar(F<2>, fee);
                                  t.Scalar(F<3>, change_pos);
                              });
}

void attempting_aps_create_tx(const char* wallet_name) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::CoinSelectionAttemptingApsCreateTx);
    if (!writer) return;
    const uint32_t wallet_len = detail::fb::StrLen(wallet_name);
    detail::EmitTable<ATTEMPTING>(writer, EventType::CoinSelectionAttemptingApsCreateTx,
                                  detail::fb::StringEnd(ATTEMPTING.fixed_size, wallet_len), 0,
                                  [=](auto& t) { t.String(F<0>, wallet_name, wallet_len); });
}

void aps_create_tx_internal(const char* wallet_name, bool use_aps, bool success, int64_t fee,
                            int32_t change_pos) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::CoinSelectionApsCreateTxInternal);
    if (!writer) return;
    const uint32_t wallet_len = detail::fb::StrLen(wallet_name);
    detail::EmitTable<APS>(writer, EventType::CoinSelectionApsCreateTxInternal,
                           detail::fb::StringEnd(APS.fixed_size, wallet_len), 0, [=](auto& t) {
                               t.String(F<0>, wallet_name, wallet_len);
                               t.Bool(F<1>, use_aps);
                               t.Bool(F<2>, success);
                               t.Scalar(F<3>, fee);
                               t.Scalar(F<4>, change_pos);
                           });
}

} // namespace tracering::bitcoin::coin_selection
