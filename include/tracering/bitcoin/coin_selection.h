// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_BITCOIN_COIN_SELECTION_H
#define TRACERING_BITCOIN_COIN_SELECTION_H

//! @file
//! Typed emitters for Bitcoin Core's `coin_selection:*` tracepoints
//! (schemas/coin_selection.fbs), with the USDT tracepoints' arguments.

#include <cstdint>

namespace tracering::bitcoin::coin_selection {

void selected_coins(const char* wallet_name, const char* algo, int64_t target, int64_t waste,
                    int64_t selected_value) noexcept;
void normal_create_tx_internal(const char* wallet_name, bool success, int64_t fee,
                               int32_t change_pos) noexcept;
void attempting_aps_create_tx(const char* wallet_name) noexcept;
void aps_create_tx_internal(const char* wallet_name, bool use_aps, bool success, int64_t fee,
                            int32_t change_pos) noexcept;

} // namespace tracering::bitcoin::coin_selection

#endif // TRACERING_BITCOIN_COIN_SELECTION_H
