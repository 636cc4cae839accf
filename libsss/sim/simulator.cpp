#include "simulator.h"

#include <algorithm>

namespace sss::sim {

// An EventId packs the slot index (low 32 bits) with the slot's generation (high 32 bits); the
// generation changes whenever a slot is reused, so stale ids can never cancel a newer event.
static Simulator::EventId makeId(uint32_t slot, uint32_t gen)
{
    return (uint64_t(gen) << 32) | slot;
}

Simulator::Simulator(uint64_t seed) : seed_(seed), rng_(seed) { }

Simulator::EventId Simulator::schedule(core::Instant at, std::function<void()> fn)
{
    if (at < now_)
        at = now_;
    uint32_t slot;
    if (!freeSlots_.empty()) {
        slot = freeSlots_.back();
        freeSlots_.pop_back();
    } else {
        slot = uint32_t(slots_.size());
        slots_.emplace_back();
    }
    Slot &s = slots_[slot];
    s.fn = std::move(fn);
    s.live = true;
    ++live_;
    heap_.push_back(Entry {at, nextSeq_++, slot, s.gen});
    std::push_heap(heap_.begin(), heap_.end(), Later {});
    return makeId(slot, s.gen);
}

void Simulator::cancel(EventId id)
{
    const uint32_t slot = uint32_t(id & 0xffffffffu);
    const uint32_t gen = uint32_t(id >> 32);
    if (slot >= slots_.size())
        return;
    Slot &s = slots_[slot];
    if (s.gen != gen || !s.live)
        return;
    // The heap entry stays until it surfaces; only the captured state is released now.
    s.live = false;
    s.fn = nullptr;
    --live_;
    // Re-armed timers leave dead entries behind; purge them once they dominate the heap so that a
    // timer re-armed per packet cannot grow the queue without bound.
    if (heap_.size() > 1024 && heap_.size() > 2 * live_)
        compact();
}

void Simulator::compact()
{
    size_t kept = 0;
    for (const Entry &e : heap_) {
        if (slots_[e.slot].live)
            heap_[kept++] = e;
        else
            releaseSlot(e.slot);
    }
    heap_.resize(kept);
    std::make_heap(heap_.begin(), heap_.end(), Later {});
}

bool Simulator::isPending(EventId id) const
{
    const uint32_t slot = uint32_t(id & 0xffffffffu);
    return slot < slots_.size() && slots_[slot].gen == uint32_t(id >> 32) && slots_[slot].live;
}

void Simulator::releaseSlot(uint32_t slot)
{
    Slot &s = slots_[slot];
    s.live = false;
    s.fn = nullptr;
    if (++s.gen == 0) // generation 0 would allow id 0 == kNoEvent
        s.gen = 1;
    freeSlots_.push_back(slot);
}

// Discards cancelled entries from the top of the heap; leaves the next live entry on top.
bool Simulator::popLive(Entry &out)
{
    while (!heap_.empty()) {
        const Entry top = heap_.front();
        if (slots_[top.slot].live) {
            out = top;
            return true;
        }
        std::pop_heap(heap_.begin(), heap_.end(), Later {});
        heap_.pop_back();
        releaseSlot(top.slot);
    }
    return false;
}

core::Instant Simulator::nextEventTime()
{
    Entry e;
    return popLive(e) ? e.at : core::kNever;
}

bool Simulator::step()
{
    Entry e;
    if (!popLive(e))
        return false;
    std::pop_heap(heap_.begin(), heap_.end(), Later {});
    heap_.pop_back();
    // Move the callback out and free the slot first: fn may schedule (growing slots_) or cancel
    // its own id, which must then be a no-op.
    std::function<void()> fn = std::move(slots_[e.slot].fn);
    --live_;
    releaseSlot(e.slot);
    now_ = e.at;
    ++processed_;
    fn();
    return true;
}

// now + d without overflowing: "run for ever" is spelled Duration::max().
static core::Instant later(core::Instant now, core::Duration d)
{
    if (d <= core::Duration::zero())
        return now;
    return d >= core::kNever - now ? core::kNever : now + d;
}

void Simulator::runFor(core::Duration d)
{
    const core::Instant end = later(now_, d);
    for (;;) {
        const core::Instant next = nextEventTime();
        if (next == core::kNever || next > end)
            break;
        step();
    }
    // An unbounded run leaves the clock at the last event rather than at the end of time.
    if (end != core::kNever && end > now_)
        now_ = end;
}

bool Simulator::runUntil(const std::function<bool()> &done, core::Duration limit)
{
    const core::Instant end = later(now_, limit);
    for (;;) {
        if (done())
            return true;
        const core::Instant next = nextEventTime();
        if (next == core::kNever || next > end)
            break;
        step();
    }
    if (end != core::kNever && end > now_)
        now_ = end;
    return done();
}

bool Simulator::run(quint64 maxEvents)
{
    for (quint64 i = 0; i < maxEvents; ++i) {
        if (!step())
            return true;
    }
    return live_ == 0;
}

double Simulator::uniform()
{
    return double(rng_() >> 11) * 0x1.0p-53;
}

bool Simulator::chance(double p)
{
    if (p <= 0)
        return false;
    if (p >= 1)
        return true;
    return uniform() < p;
}

core::Duration Simulator::uniformDuration(core::Duration max)
{
    if (max <= core::Duration::zero())
        return core::Duration::zero();
    // Inclusive upper bound; modulo bias is negligible for 64-bit draws and durations in ns.
    return core::Duration(int64_t(rng_() % (uint64_t(max.count()) + 1)));
}

void Timer::start(core::Instant at)
{
    stop();
    if (at == core::kNever)
        return;
    at_ = at;
    id_ = sim_.schedule(at, [this] {
        id_ = Simulator::kNoEvent;
        at_ = core::kNever;
        if (fn_)
            fn_();
    });
}

void Timer::stop()
{
    if (id_ != Simulator::kNoEvent)
        sim_.cancel(id_);
    id_ = Simulator::kNoEvent;
    at_ = core::kNever;
}

} // namespace sss::sim
