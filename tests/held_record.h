// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTS_HELD_RECORD_H
#define TRACERING_TESTS_HELD_RECORD_H

#include <tracering/producer.h>

#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>

namespace tracering::test {

//! A record whose writer thread stops in the middle (Producer::WriteInPlace's fill waits)
//! until Release(): what a node thread preempted, or stopped in a debugger, mid-record looks
//! like. Its 8-byte payload is all ones. Used by the stress test and the test helper's
//! "hold" command.
class HeldRecord
{
public:
    static constexpr uint64_t MARKER = ~uint64_t{0};

    //! Starts the stopped writer of a `type` record on `ring` and returns once it is inside
    //! its record: true, or false if the record was not written (nobody reads the ring, or
    //! it is full).
    bool Start(Producer& producer, Subsystem ring, uint16_t type)
    {
        m_thread = std::thread{[this, &producer, ring, type] {
            const bool written =
                producer.WriteInPlace(ring, type, sizeof(MARKER), &HeldRecord::Fill, this);
            std::lock_guard lock{m_mutex};
            m_done = true;
            m_written = written;
            m_cv.notify_all();
        }};
        std::unique_lock lock{m_mutex};
        m_cv.wait(lock, [&] { return m_inside || m_done; });
        return m_inside;
    }
    //! Lets it finish its record, and waits until it has.
    void Release()
    {
        {
            std::lock_guard lock{m_mutex};
            m_release = true;
        }
        m_cv.notify_all();
        if (m_thread.joinable()) m_thread.join();
    }
    //! After Release(): what WriteInPlace returned.
    bool written()
    {
        std::lock_guard lock{m_mutex};
        return m_written;
    }
    ~HeldRecord() { Release(); }

private:
    static void Fill(uint8_t* dst, void* context)
    {
        auto& self = *static_cast<HeldRecord*>(context);
        std::unique_lock lock{self.m_mutex};
        self.m_inside = true;
        self.m_cv.notify_all();
        self.m_cv.wait(lock, [&] { return self.m_release; });
        std::memcpy(dst, &MARKER, sizeof(MARKER));
    }

    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_inside{false};  //!< guarded by m_mutex
    bool m_release{false}; //!< guarded by m_mutex
    bool m_done{false};    //!< WriteInPlace returned; guarded by m_mutex
    bool m_written{false}; //!< what it returned; guarded by m_mutex
    std::thread m_thread;
};

} // namespace tracering::test

#endif // TRACERING_TESTS_HELD_RECORD_H
