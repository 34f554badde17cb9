// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/bitcoin/mempool.h>
#include <tracering/schemas/mempool_generated.h>

#include <cstring>

#include "producer/emit.h"

namespace tracering::bitcoin::mempool {
namespace {

namespace mp = tracering::mempool;

//! RemovalReasonToString() values to the schema's enum.
mp::RemovalReason ParseReason(const char* s) noexcept
{
    if (!s) return mp::RemovalReason::Unknown;
    auto is = [s](const char* name, mp::RemovalReason r) {
        return std::strcmp(s, name) == 0 ? r : mp::RemovalReason::Unknown;
    };
    switch (s[0]) {
    case 'e':
        return is("expiry", mp::RemovalReason::Expiry);
    case 's':
        return is("sizelimit", mp::RemovalReason::Sizelimit);
    case 'r': {
        const mp::RemovalReason r = is("reorg", mp::RemovalReason::Reorg);
        return r != mp::RemovalReason::Unknown ? r : is("replaced", mp::RemovalReason::Replaced);
    }
    case 'b':
        return is("block", mp::RemovalReason::Block);
    case 'c':
        return is("conflict", mp::RemovalReason::Conflict);
    default:
        return mp::RemovalReason::Unknown;
    }
}

// The layouts, derived from the generated code (detail::TableLayout).
using detail::FieldOf;
using detail::TableLayout;
using detail::fb::F;

constexpr auto ADDED = TableLayout(FieldOf(mp::Added::VT_TXID, &mp::Added::txid),
                                   FieldOf(mp::Added::VT_VSIZE, &mp::Added::vsize),
                                   FieldOf(mp::Added::VT_FEE, &mp::Added::fee));

constexpr auto REMOVED =
    TableLayout(FieldOf(mp::Removed::VT_TXID, &mp::Removed::txid),
                FieldOf(mp::Removed::VT_REASON, &mp::Removed::reason),
                FieldOf(mp::Removed::VT_VSIZE, &mp::Removed::vsize),
                FieldOf(mp::Removed::VT_FEE, &mp::Removed::fee),
                FieldOf(mp::Removed::VT_ENTRY_TIME, &mp::Removed::entry_time),
                FieldOf(mp::Removed::VT_REASON_NAME, &mp::Removed::reason_name));

using R = mp::Replaced;
constexpr auto REPLACED =
    TableLayout(FieldOf(R::VT_REPLACED_TXID, &R::replaced_txid),
                FieldOf(R::VT_REPLACED_VSIZE, &R::replaced_vsize),
                FieldOf(R::VT_REPLACED_FEE, &R::replaced_fee),
                FieldOf(R::VT_REPLACED_ENTRY_TIME, &R::replaced_entry_time),
                FieldOf(R::VT_REPLACEMENT_TXID, &R::replacement_txid),
                FieldOf(R::VT_REPLACEMENT_VSIZE, &R::replacement_vsize),
                FieldOf(R::VT_REPLACEMENT_FEE, &R::replacement_fee),
                FieldOf(R::VT_REPLACED_BY_TRANSACTION, &R::replaced_by_transaction));

constexpr auto REJECTED = TableLayout(FieldOf(mp::Rejected::VT_TXID, &mp::Rejected::txid),
                                      FieldOf(mp::Rejected::VT_REASON, &mp::Rejected::reason));

} // namespace

void added(const void* txid, int32_t vsize, int64_t fee) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::MempoolAdded);
    if (!writer) return;
    detail::EmitTable<ADDED>(writer, EventType::MempoolAdded, ADDED.fixed_size, 0, [=](auto& t) {
        t.Hash(F<0>, txid);
        t.Scalar(F<1>, vsize);
        t.Scalar(F<2>, fee);
    });
}

void removed(const void* txid, const char* reason, int32_t vsize, int64_t fee,
             uint64_t entry_time) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::MempoolRemoved);
    if (!writer) return;
    const mp::RemovalReason r = ParseReason(reason);
    const bool unknown = r == mp::RemovalReason::Unknown;
    const uint32_t reason_len = unknown ? detail::fb::StrLen(reason) : 0;
    const uint64_t end =
        unknown ? detail::fb::StringEnd(REMOVED.fixed_size, reason_len) : REMOVED.fixed_size;
    detail::EmitTable<REMOVED>(writer, EventType::MempoolRemoved, end, 0, [=](auto& t) {
        t.Hash(F<0>, txid);
        t.Scalar(F<1>, static_cast<uint8_t>(r));
        t.Scalar(F<2>, vsize);
        t.Scalar(F<3>, fee);
        t.Scalar(F<4>, entry_time);
        if (unknown) {
            t.String(F<5>, reason, reason_len);
        } else {
            t.Absent(F<5>);
        }
    });
}

void replaced(const void* replaced_txid, int32_t replaced_vsize, int64_t replaced_fee,
              uint64_t replaced_entry_time, const void* replacement_txid, int32_t replacement_vsize,
              int64_t replacement_fee, bool replaced_by_transaction) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::MempoolReplaced);
    if (!writer) return;
    detail::EmitTable<REPLACED>(writer, EventType::MempoolReplaced, REPLACED.fixed_size, 0,
                                [=](auto& t) {
                                    t.Hash(F<0>, replaced_txid);
                                    t.Scalar(F<1>, replaced_vsize);
                                    t.Scalar(F<2>, replaced_fee);
                                    t.Scalar(F<3>, replaced_entry_time);
                                    t.Hash(F<4>, replacement_txid);
                                    t.Scalar(F<5>, replacement_vsize);
                                    t.Scalar(F<6>, replacement_fee);
                                    t.Bool(F<7>, replaced_by_transaction);
                                });
}

void rejected(const void* txid, const char* reason) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::MempoolRejected);
    if (!writer) return;
    const uint32_t reason_len = detail::fb::StrLen(reason);
    detail::EmitTable<REJECTED>(writer, EventType::MempoolRejected,
                                detail::fb::StringEnd(REJECTED.fixed_size, reason_len), 0,
                                [=](auto& t) {
                                    t.Hash(F<0>, txid);
                                    t.String(F<1>, reason, reason_len);
                                });
}

} // namespace tracering::bitcoin::mempool
