// A table of values by 64-bit handle where a handle names its slot: finding, adding and removing
// one is an array access, without hashing or nodes. Used for the endpoint's stream handles.
#pragma once

#include <QtGlobal>
#include <vector>

namespace sss::core {

// A handle is (generation << 32) | (slot index + 1), so 0 is never one. Removing a value bumps its
// slot's generation: a stale handle never finds the value that reuses the slot (the slot whose
// generation would wrap is retired, never reused). Free slots are reused last freed first (a
// request's stream takes the slot the previous request's left). Slots are never given back
// (their generations must stay): the table keeps the size of its busiest moment.
template<typename T> class SlotTable
{
public:
    using Handle = quint64;

    T *find(Handle h)
    {
        const quint32 i = quint32(h) - 1; // (handle 0: ~0, past the end)
        if (i >= slots_.size() || slots_[i].tag != (h | kLive))
            return nullptr;
        return &slots_[i].value;
    }
    const T *find(Handle h) const { return const_cast<SlotTable *>(this)->find(h); }

    Handle add(const T &value)
    {
        quint32 i;
        if (freeHead_ != 0) {
            i = freeHead_ - 1;
            freeHead_ = quint32(slots_[i].tag);
        } else {
            Q_ASSERT(slots_.size() < kLive - 1); // (2^32 slots: far beyond any memory)
            i = quint32(slots_.size());
            slots_.emplace_back();
        }
        Slot &s = slots_[i];
        s.value = value;
        s.tag |= kLive;
        ++size_;
        return (s.tag & ~Handle(kLive)) | (i + 1);
    }

    void remove(Handle h)
    {
        T *v = find(h);
        if (!v)
            return;
        const quint32 i = quint32(h) - 1;
        Slot &s = slots_[i];
        s.value = T();
        --size_;
        const Handle generation = s.tag >> 32;
        if (generation == kLive) { // retired: a next generation would repeat old handles
            s.tag = 0;
            return;
        }
        s.tag = ((generation + 1) << 32) | freeHead_;
        freeHead_ = i + 1;
    }

    size_t size() const { return size_; }

private:
    static constexpr quint32 kLive = ~quint32(0);
    struct Slot {
        T value {};
        // The generation in the high 32 bits; the low 32 bits kLive while in use, else the next
        // free slot's index + 1 (0: none).
        Handle tag = 0;
    };
    std::vector<Slot> slots_;
    quint32 freeHead_ = 0; // index + 1 of the last slot freed, 0: none
    size_t size_ = 0;
};

} // namespace sss::core
