// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_RESULT_H
#define TRACERING_RESULT_H

//! @file
//! `Result<T>`: the value of an operation that can fail for reasons outside the program's
//! control (a missing segment, a permission, a version mismatch). Bugs abort instead.

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tracering {

//! What kind of failure an Error is; tools map these to exit codes.
enum class ErrorCode {
    InvalidArgument,  //!< the caller passed something unusable (names the argument)
    NotFound,         //!< no segment or socket of that name
    PermissionDenied, //!< the OS refused access; the message says to whom it belongs
    AlreadyExists,    //!< a live producer already owns that name
    Stale,            //!< the producer that made the segment is gone
    NotReady,         //!< the producer is still creating the segment
    VersionMismatch,  //!< the ABI (or a file format) differs between the two sides
    Corrupt,          //!< the segment's contents break the ABI's rules
    Busy,             //!< the ring already has a reader
    Detached,         //!< the producer detached this reader (lease ended, cursor violation)
    SystemError,      //!< another OS failure; the message has errno's text
};

std::string_view ToString(ErrorCode code) noexcept;

class Error
{
public:
    Error(ErrorCode code, std::string message) : m_code{code}, m_message{std::move(message)} {}
    ErrorCode code() const noexcept { return m_code; }
    //! A complete sentence naming what was wrong and, where possible, what to do.
    const std::string& message() const noexcept { return m_message; }

private:
    ErrorCode m_code;
    std::string m_message;
};

//! Either a T or an Error. Check with `ok()` (or operator bool) before `value()`.
template <typename T>
class [[nodiscard]] Result
{
public:
    Result(T value) : m_v{std::in_place_index<0>, std::move(value)} {}
    Result(Error error) : m_v{std::in_place_index<1>, std::move(error)} {}

    bool ok() const noexcept { return m_v.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { return std::get<0>(m_v); }
    T&& value() && { return std::get<0>(std::move(m_v)); }
    const T& value() const& { return std::get<0>(m_v); }
    const Error& error() const { return std::get<1>(m_v); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    std::variant<T, Error> m_v;
};

//! The Result of an operation that yields nothing.
template <>
class [[nodiscard]] Result<void>
{
public:
    Result() = default;
    Result(Error error) : m_error{std::move(error)}, m_failed{true} {}
    bool ok() const noexcept { return !m_failed; }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const { return m_error; }

private:
    Error m_error{ErrorCode::InvalidArgument, {}};
    bool m_failed{false};
};

} // namespace tracering

#endif // TRACERING_RESULT_H
