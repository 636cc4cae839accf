// A table of values by 64-bit id, for ids that come in sequence: stream handles (the Qt edge's
// Stream objects and transactions) and a session's stream wire ids.
#pragma once

#include <QtGlobal>
#include <algorithm>
#include <utility>
#include <vector>

namespace sss::core {

// Ids handed out in sequence (wire ids, per direction) or naming slots (stream handles: their low
// bits are their slot in the endpoint's SlotTable) spread evenly over their low bits: an
// open-addressed table indexed by them (linear probing, at most half full, backward-shift erase)
// finds one in a probe or two, without hashing, nodes or a rehash check. Values move on add() and
// remove(): a reference to one is valid until the next of those. Id 0 (never valid) marks a free
// slot; free slots hold a default T. The first table has kMinSlots (a power of two) slots.
template<typename T, size_t kMinSlots = 16> class IdTable
{
public:
    using Handle = quint64;

    bool empty() const { return count_ == 0; }
    size_t size() const { return count_; }
    T *find(Handle h)
    {
        if (count_ == 0)
            return nullptr;
        for (size_t i = size_t(h) & mask_;; i = (i + 1) & mask_) {
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
        size_t i = size_t(h) & mask_;
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
        size_t gap = size_t(h) & mask_;
        while (slots_[gap].handle != h)
            gap = (gap + 1) & mask_;
        // Pull later entries of the probe run back into the gap, unless that would put one before
        // its home slot.
        for (size_t j = (gap + 1) & mask_; slots_[j].handle != 0; j = (j + 1) & mask_) {
            const size_t home = size_t(slots_[j].handle) & mask_;
            if (((j - home) & mask_) >= ((j - gap) & mask_)) {
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

private:
    struct Slot {
        Handle handle = 0;
        T value {};
    };
    void grow()
    {
        const size_t n = std::max<size_t>(kMinSlots, slots_.size() * 2);
        std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(n));
        mask_ = n - 1;
        count_ = 0;
        for (Slot &s : old)
            if (s.handle != 0)
                add(s.handle) = std::move(s.value);
    }
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t count_ = 0;
};

} // namespace sss::core
