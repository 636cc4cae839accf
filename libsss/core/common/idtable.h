// A table of values by 64-bit id: stream handles (the Qt edge's Stream objects and transactions)
// and, keyed, a session's stream wire ids.
#pragma once

#include <QtGlobal>
#include <algorithm>
#include <bit>
#include <utility>
#include <vector>

namespace sss::core {

// Ids handed out locally (stream handles: their low bits are their slot in the endpoint's
// SlotTable) spread evenly over their low bits: an
// open-addressed table indexed by them (linear probing, at most half full, backward-shift erase)
// finds one in a probe or two, without hashing, nodes or a rehash check. Values move on add() and
// remove(): a reference to one is valid until the next of those. Id 0 (never valid) marks a free
// slot; free slots hold a default T. The first table has kMinSlots (a power of two) slots.
//
// Ids that someone else chooses (a peer picks which wire ids of its stream credit it opens) must
// not index by their low bits: ids spaced by the table size would share one home slot and every
// lookup would walk their whole run. A keyed table (kKeyed, constructed with a secret random key)
// mixes the id with the key (multiply by the odd key, xor-shift, multiply) and takes the high bits,
// so ids cannot be aimed at a slot without the key, for any id sequence and any key.
template<typename T, size_t kMinSlots = 16, bool kKeyed = false> class IdTable
{
public:
    using Handle = quint64;

    IdTable() requires(!kKeyed) = default;
    explicit IdTable(quint64 key) requires kKeyed : key_(key | 1) { }

    bool empty() const { return count_ == 0; }
    size_t size() const { return count_; }
    T *find(Handle h)
    {
        if (count_ == 0)
            return nullptr;
        for (size_t i = home(h);; i = (i + 1) & mask_) {
            if (slots_[i].handle == h)
                return &slots_[i].value;
            if (slots_[i].handle == 0)
                return nullptr;
        }
    }
    T &add(Handle h) // (h is not 0 and not in the table)
    {
        if ((count_ + 1) * 2 > slots_.size())
            grow();
        size_t i = home(h);
        while (slots_[i].handle != 0)
            i = (i + 1) & mask_;
        ++count_;
        slots_[i].handle = h;
        return slots_[i].value;
    }
    void remove(Handle h)
    {
        if (!find(h))
            return;
        size_t gap = home(h);
        while (slots_[gap].handle != h)
            gap = (gap + 1) & mask_;
        // Pull later entries of the probe run back into the gap, unless that would put one before
        // its home slot.
        for (size_t j = (gap + 1) & mask_; slots_[j].handle != 0; j = (j + 1) & mask_) {
            if (((j - home(slots_[j].handle)) & mask_) >= ((j - gap) & mask_)) {
                slots_[gap] = std::move(slots_[j]);
                gap = j;
            }
        }
        slots_[gap] = Slot();
        --count_;
    }
    template<typename F> void forEach(F &&f) const
    {
        for (const Slot &s : slots_)
            if (s.handle != 0)
                f(s.handle, s.value);
    }
    template<typename F> void forEach(F &&f) // (f must not add or remove)
    {
        for (Slot &s : slots_)
            if (s.handle != 0)
                f(s.handle, s.value);
    }
    void clear()
    {
        slots_.clear();
        mask_ = 0;
        count_ = 0;
    }
    // The longest distance of an entry from its home slot (tests: no id set builds long runs).
    size_t maxProbe() const
    {
        size_t most = 0;
        for (size_t i = 0; i < slots_.size(); ++i)
            if (slots_[i].handle != 0)
                most = std::max(most, (i - home(slots_[i].handle)) & mask_);
        return most;
    }

private:
    struct Slot {
        Handle handle = 0;
        T value {};
    };
    size_t home(Handle h) const
    {
        if constexpr (kKeyed) {
            // Multiplying alone keeps id sequences arithmetic: some keys would pile them into a
            // few slots. The xor-shift and a second (fixed) multiply break that up.
            quint64 x = h * key_;
            x ^= x >> 32;
            return size_t((x * 0x9e3779b97f4a7c15ull) >> shift_);
        } else
            return size_t(h) & mask_;
    }
    void grow()
    {
        const size_t n = std::max<size_t>(kMinSlots, slots_.size() * 2);
        std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(n));
        mask_ = n - 1;
        shift_ = 64 - std::countr_zero(n);
        count_ = 0;
        for (Slot &s : old)
            if (s.handle != 0)
                add(s.handle) = std::move(s.value);
    }
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t count_ = 0;
    // Keyed tables only (unused otherwise; a few tables per endpoint, and one per session).
    quint64 key_ = 1;
    int shift_ = 64;
};

} // namespace sss::core
