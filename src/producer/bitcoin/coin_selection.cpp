// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/bitcoin/coin_selection.h>
#include <tracering/schemas/coin_selection_generated.h>

#include "producer/emit.h"

namespace tracering::bitcoin::coin_selection {
namespace {

using detail::FieldId;
using detail::fb::Slot;
namespace cs = tracering::coin_selection;

constexpr auto SELECTED =
    detail::fb::MakeLayout<5>({Slot::Offset, Slot::Offset, Slot::U64, Slot::U64, Slot::U64});
static_assert(FieldId(cs::SelectedCoins::VT_WALLET_NAME) == 0 &&
              FieldId(cs::SelectedCoins::VT_ALGO) == 1 &&
              FieldId(cs::SelectedCoins::VT_TARGET) == 2 &&
              FieldId(cs::SelectedCoins::VT_WASTE) == 3 &&
              FieldId(cs::SelectedCoins::VT_SELECTED_VALUE) == 4);

constexpr auto NORMAL = detail::fb::MakeLayout<4>({Slot::Offset, Slot::U8, Slot::U64, Slot::U32});
static_assert(FieldId(cs::NormalCreateTxInternal::VT_WALLET_NAME) == 0 &&
              FieldId(cs::NormalCreateTxInternal::VT_SUCCESS) == 1 &&
              FieldId(cs::NormalCreateTxInternal::VT_FEE) == 2 &&
              FieldId(cs::NormalCreateTxInternal::VT_CHANGE_POS) == 3);

constexpr auto ATTEMPTING = detail::fb::MakeLayout<1>({Slot::Offset});
static_assert(FieldId(cs::AttemptingApsCreateTx::VT_WALLET_NAME) == 0);

constexpr auto APS =
    detail::fb::MakeLayout<5>({Slot::Offset, Slot::U8, Slot::U8, Slot::U64, Slot::U32});
static_assert(FieldId(cs::ApsCreateTxInternal::VT_WALLET_NAME) == 0 &&
              FieldId(cs::ApsCreateTxInternal::VT_USE_APS) == 1 &&
              FieldId(cs::ApsCreateTxInternal::VT_SUCCESS) == 2 &&
              FieldId(cs::ApsCreateTxInternal::VT_FEE) == 3 &&
              FieldId(cs::ApsCreateTxInternal::VT_CHANGE_POS) == 4);

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
    detail::EmitTable(writer, EventType::CoinSelectionSelectedCoins, SELECTED, end, 0,
                      [=](auto& t) {
                          t.String(0, wallet_name, wallet_len);
                          t.String(1, algo, algo_len);
                          t.Scalar(2, target);
                          t.Scalar(3, waste);
                          t.Scalar(4, selected_value);
                      });
}

void normal_create_tx_internal(const char* wallet_name, bool success, int64_t fee,
                               int32_t change_pos) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::CoinSelectionNormalCreateTxInternal);
    if (!writer) return;
    const uint32_t wallet_len = detail::fb::StrLen(wallet_name);
    detail::EmitTable(writer, EventType::CoinSelectionNormalCreateTxInternal, NORMAL,
                      detail::fb::StringEnd(NORMAL.fixed_size, wallet_len), 0, [=](auto& t) {
                          t.String(0, wallet_name, wallet_len);
                          t.Bool(1, success);
                          t.Scalar(2, fee);
                          t.Scalar(3, change_pos);
                      });
}

void attempting_aps_create_tx(const char* wallet_name) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::CoinSelectionAttemptingApsCreateTx);
    if (!writer) return;
    const uint32_t wallet_len = detail::fb::StrLen(wallet_name);
    detail::EmitTable(writer, EventType::CoinSelectionAttemptingApsCreateTx, ATTEMPTING,
                      detail::fb::StringEnd(ATTEMPTING.fixed_size, wallet_len), 0,
                      [=](auto& t) { t.String(0, wallet_name, wallet_len); });
}

void aps_create_tx_internal(const char* wallet_name, bool use_aps, bool success, int64_t fee,
                            int32_t change_pos) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::CoinSelectionApsCreateTxInternal);
    if (!writer) return;
    const uint32_t wallet_len = detail::fb::StrLen(wallet_name);
    detail::EmitTable(writer, EventType::CoinSelectionApsCreateTxInternal, APS,
                      detail::fb::StringEnd(APS.fixed_size, wallet_len), 0, [=](auto& t) {
                          t.String(0, wallet_name, wallet_len);
                          t.Bool(1, use_aps);
                          t.Bool(2, success);
                          t.Scalar(3, fee);
                          t.Scalar(4, change_pos);
                      });
}

} // namespace tracering::bitcoin::coin_selection
