// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TOOLS_CLI_H
#define TRACERING_TOOLS_CLI_H

//! @file
//! The command line of every tracering program: ringdump, tracering-testnode,
//! tracering-loadgen, tracering-extractor, tracering-demo and the bench programs. One walker
//! over the arguments, so that every program takes options the same way and says what was
//! wrong the same way:
//!  - `--flag VALUE` and `--flag=VALUE`; for the short options a program lists as taking a
//!    value, also `-f VALUE` and `-fVALUE`;
//!  - a value that looks like an option (`--ring --json`) is a forgotten value, unless given
//!    as `--flag=VALUE` or the program allows it (a password);
//!  - an option that takes one value and is given twice is an error: the last of two
//!    contradicting values would otherwise win unnoticed;
//!  - every error is one line naming the option and what it needs, followed by where the
//!    help is, and the program exits with EXIT_USAGE.
//!
//! A program loops over Next() and asks Is() which option it is:
//!
//!     cli::Args a{"tracering-loadgen", argc, argv};
//!     while (a.Next()) {
//!         if (a.IsHelp()) return cli::Help(USAGE);
//!         bool ok = true;
//!         if (a.Is("--count")) ok = a.U64(count, 1);
//!         else if (a.IsPositional()) mode = a.arg();
//!         else return a.Unknown();
//!         if (!ok) return a.Error();
//!     }
//!
//! It also holds what every program does the same way around its run: ending cleanly on a
//! signal (StopOnSignals) and failing when its output could not be written (Finish).

#include <atomic>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tracering::cli {

//! The exit code of a bad command line, the same in every program.
inline constexpr int EXIT_USAGE = 1;

//! The longest path a unix socket may have: sockaddr_un's sun_path, less its terminating
//! zero (Linux: 107 bytes).
extern const size_t MAX_SOCKET_PATH;

//! "" if `path` fits a unix socket address, else why not ("is N bytes long; a unix socket
//! path may have at most MAX_SOCKET_PATH"), for a message that names the path first.
std::string SocketPathTooLong(const std::string& path);

//! Prints `text` (a program's help) and then `more` (if any) to stdout; returns 0, the exit
//! code of --help.
int Help(const char* text, const char* more = nullptr);

//! Prints "PROGRAM: message" and where the help is to stderr; returns EXIT_USAGE.
//! `command` is the subcommand whose help to point to (empty: the program's).
int Usage(std::string_view program, std::string_view command, std::string_view message);

//! The exit code Finish() gives a program that exited 0 but could not write its output.
inline constexpr int EXIT_OUTPUT_FAILED = 2;

//! Flushes stdout and returns `code`, the program's exit code, unless stdout could not be
//! written (a full disk, /dev/full, a closed descriptor): then says so on stderr and returns
//! `code`, or `failure_code` if `code` is 0. A program's output is often its result (a
//! `result` line other programs parse), so losing it is a failure, not a success. Call it
//! once, as main() returns: `return cli::Finish("ringdump", Main(argc, argv));`.
int Finish(std::string_view program, int code, int failure_code = EXIT_OUTPUT_FAILED);

//! The least time between a first stop signal and a second one that kills the program.
inline constexpr int64_t SECOND_SIGNAL_KILLS_AFTER_NS = 1'000'000'000;

//! Makes SIGINT, SIGTERM and SIGHUP (a closed terminal or ssh session) end the program
//! cleanly: the first of them sets `stop`, which the program polls to finish what it was
//! doing (flush its output, complete its files, print its totals). A later one kills the
//! program (the signal's default action), should the clean end hang, but only if it comes
//! SECOND_SIGNAL_KILLS_AFTER_NS or more after the first: timeout(1) signals its child and
//! then the child's process group, so a program it runs gets the same signal twice at once,
//! and a second copy must not kill it mid-way. Call it once, before the run starts;
//! `stop` must outlive the program's run.
void StopOnSignals(std::atomic<bool>& stop);

//! Whether `text` would be read as an option: "--x", or "-" and a letter. "-", "-5" and
//! "-0.5" are values.
bool LooksLikeOption(std::string_view text);

//! Parses a whole unsigned decimal number; false for anything else (signs, spaces, suffixes,
//! out of range).
bool ParseU64(std::string_view text, uint64_t& out);
//! Parses a whole signed decimal number; false for anything else.
bool ParseI64(std::string_view text, int64_t& out);
//! Parses a decimal number (a sign, a fraction and an exponent allowed; also "inf", which
//! callers bound); false for anything else.
bool ParseNumber(std::string_view text, double& out);

//! Walks one command line. Not thread-safe; one per parse.
class Args
{
public:
    //! `program` and `command` name the help in messages; `args` are the arguments after the
    //! program (and command) name; `short_with_value` lists the short options that take a
    //! value, as letters ("aupfl" for -a, -u, ...).
    Args(std::string program, std::string command, std::vector<std::string> args,
         std::string short_with_value = {});
    //! The arguments of main(), after argv[0].
    Args(std::string program, int argc, char** argv, std::string short_with_value = {});

    //! Moves to the next argument; false at the end.
    bool Next();
    //! The current argument as given, without an inline "=VALUE" (or a short option's
    //! attached value).
    const std::string& arg() const { return m_current; }
    //! Whether the current argument is the option `name` ("--count"). Messages about it
    //! then name it so.
    bool Is(std::string_view name);
    //! Whether it is the option with the short form `short_name` ("-a") or the long form
    //! `long_name` ("--nats-address"). Messages then name it "-a/--nats-address".
    bool Is(std::string_view short_name, std::string_view long_name);
    //! --help or -h.
    bool IsHelp() const { return m_current == "--help" || m_current == "-h"; }
    //! Not an option: a command, a mode, a file.
    bool IsPositional() const { return !LooksLikeOption(m_current); }

    //! The option's value. Sets the error (and returns false) if it has none, if the next
    //! argument looks like an option (unless `may_look_like_option`), or if the option was
    //! given before.
    bool Value(std::string& out, bool may_look_like_option = false);
    //! As Value, for an option that may be given more than once: appends each value.
    bool Append(std::vector<std::string>& out);
    //! A value that must not be empty; `what` says what it must be ("a directory").
    bool NonEmpty(std::string& out, std::string_view what);
    //! A whole number in [min, max].
    bool U64(uint64_t& out, uint64_t min = 0, uint64_t max = std::numeric_limits<uint64_t>::max());
    //! A whole, possibly negative, number.
    bool I64(int64_t& out);
    //! A number of seconds (fractions allowed), at least `min` and below 1e9.
    bool Seconds(double& out, double min = 0);
    //! An option without a value: sets `out`; an inline "=VALUE" is an error.
    bool Switch(bool& out);
    //! A unix socket path (the producer's control socket): not empty, and short enough for
    //! a socket address (MAX_SOCKET_PATH bytes at most).
    bool SocketPath(std::string& out);
    //! Sets the error to `why` (a value that parsed but cannot be used); returns false.
    bool Fail(std::string why);

    //! Prints the error set by the last failed call and where the help is; EXIT_USAGE.
    int Error() const { return Usage(m_error); }
    //! Prints `message` and where the help is; EXIT_USAGE.
    int Usage(std::string_view message) const;
    //! For an argument no branch took: "unknown option X" or "unexpected argument 'X'".
    int Unknown() const;
    //! The option as messages name it ("--count", "-a/--nats-address").
    const std::string& name() const { return m_name; }
    const std::string& error() const { return m_error; }

private:
    //! The value of the current option, unchecked for repetition.
    bool Take(std::string& out, bool may_look_like_option);

    std::string m_program;
    std::string m_command;
    std::vector<std::string> m_args;
    std::string m_short_with_value;
    size_t m_index{0};
    std::string m_current;
    std::string m_name;
    bool m_has_inline{false};
    std::string m_inline;
    std::string m_error;
    std::set<std::string> m_seen; //!< single-valued options given so far, by name
};

} // namespace tracering::cli

#endif // TRACERING_TOOLS_CLI_H
