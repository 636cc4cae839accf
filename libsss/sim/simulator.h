// Discrete-event simulator: a virtual clock, a (time, seq)-ordered event queue and one seeded RNG.
// Everything that runs under it (sans-IO core, later the Qt API through an adapter) sees only virtual
// time, so a run is a pure function of its seed. Single-threaded; never reads a real clock.
#pragma once

#include "common/types.h"

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace sss::sim {

class Simulator
{
public:
    using EventId = uint64_t;
    static constexpr EventId kNoEvent = 0;

    // Virtual time starts here rather than at Instant{} so that code subtracting durations from
    // now() never underflows the epoch.
    static constexpr core::Instant kEpoch = core::Instant {} + std::chrono::hours(1);

    explicit Simulator(uint64_t seed);
    Simulator(const Simulator &) = delete;
    Simulator &operator=(const Simulator &) = delete;

    uint64_t seed() const { return seed_; }
    core::Instant now() const { return now_; }
    // Time elapsed since kEpoch: handy for logs and assertions.
    core::Duration elapsed() const { return now_ - kEpoch; }

    // schedule() runs fn at `at` (clamped to now() if in the past). Events at equal times run in the
    // order they were scheduled. Returns an id for cancel(), never kNoEvent.
    EventId schedule(core::Instant at, std::function<void()> fn);
    EventId scheduleAfter(core::Duration d, std::function<void()> fn)
    {
        return schedule(now_ + d, std::move(fn));
    }
    // post() runs fn at now(), after the events already queued for now().
    EventId post(std::function<void()> fn) { return schedule(now_, std::move(fn)); }
    // cancel() is O(1); cancelling a fired, already cancelled or unknown id does nothing.
    void cancel(EventId id);
    bool isPending(EventId id) const;

    // step() advances the clock to the next event and runs it. Returns false if the queue is empty.
    bool step();
    // runFor() runs every event due up to now()+d, then leaves the clock at now()+d.
    void runFor(core::Duration d);
    // runUntil() runs events until done() holds (checked before each event) or until the time limit
    // is reached or the queue drains; the clock then stops at now()+limit. Returns done().
    bool runUntil(const std::function<bool()> &done, core::Duration limit);
    // run() drains the queue (guarded by maxEvents against self-rescheduling loops). Returns true if
    // the queue emptied.
    bool run(quint64 maxEvents = 100'000'000);

    // Time of the next live event, or core::kNever.
    core::Instant nextEventTime();
    size_t pendingEvents() const { return live_; }
    quint64 eventsProcessed() const { return processed_; }

    std::mt19937_64 &rng() { return rng_; }
    // Uniform double in [0, 1) from 53 random bits: independent of the standard library's
    // distribution implementations, so traces match across toolchains.
    double uniform();
    // true with probability p (no RNG draw when p <= 0 or p >= 1, so enabling an unrelated
    // feature does not shift the random sequence of others).
    bool chance(double p);
    // Uniform duration in [0, max].
    core::Duration uniformDuration(core::Duration max);

private:
    struct Entry {
        core::Instant at;
        uint64_t seq;
        uint32_t slot;
        uint32_t gen;
    };
    struct Later {
        bool operator()(const Entry &a, const Entry &b) const
        {
            return a.at != b.at ? a.at > b.at : a.seq > b.seq;
        }
    };
    struct Slot {
        std::function<void()> fn;
        uint32_t gen = 1;
        bool live = false;
    };

    bool popLive(Entry &out);
    void releaseSlot(uint32_t slot);
    void compact();

    uint64_t seed_;
    core::Instant now_ = kEpoch;
    std::mt19937_64 rng_;
    std::vector<Entry> heap_;
    std::vector<Slot> slots_;
    std::vector<uint32_t> freeSlots_;
    uint64_t nextSeq_ = 0;
    size_t live_ = 0;
    quint64 processed_ = 0;
};

// A re-armable one-shot timer on top of Simulator, the shape the Qt-edge adapter needs ("re-arm ONE
// timer to the core's next deadline"). Disarms itself on destruction, so it must not outlive its
// Simulator.
class Timer
{
public:
    explicit Timer(Simulator &sim, std::function<void()> fn = {}) : sim_(sim), fn_(std::move(fn)) { }
    ~Timer() { stop(); }
    Timer(const Timer &) = delete;
    Timer &operator=(const Timer &) = delete;

    void setCallback(std::function<void()> fn) { fn_ = std::move(fn); }
    // start() (re)arms the timer for `at`; core::kNever just stops it.
    void start(core::Instant at);
    void stop();
    bool isActive() const { return id_ != Simulator::kNoEvent; }
    core::Instant deadline() const { return isActive() ? at_ : core::kNever; }

private:
    Simulator &sim_;
    std::function<void()> fn_;
    Simulator::EventId id_ = Simulator::kNoEvent;
    core::Instant at_ = core::kNever;
};

} // namespace sss::sim
