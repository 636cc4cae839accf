// Freed blocks of one size kept for reuse, and an allocator drawing on them, for std::deque queues
// that churn: a deque frees a node whenever its front empties and allocates one whenever its back
// fills. A channel's SentPacket records take a new 512-byte node every four packets sent and free
// them in bursts of dozens as ACKs arrive; glibc's per-thread cache overflows in those bursts, so
// each allocation cost ~180 instructions (its unsorted bin) instead of a pop from this list. The
// owner trims the list when it goes quiet; busy, it holds at most what the queue held at its peak.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <vector>

namespace sss::core {

class SpareBlocks
{
public:
    SpareBlocks() = default;
    SpareBlocks(const SpareBlocks &) = delete;
    SpareBlocks &operator=(const SpareBlocks &) = delete;
    ~SpareBlocks() { trim(0); }

    void *allocate(std::size_t bytes)
    {
        if (bytes == size_ && !blocks_.empty()) {
            void *p = blocks_.back();
            blocks_.pop_back();
            return p;
        }
        return ::operator new(bytes);
    }
    void deallocate(void *p, std::size_t bytes)
    {
        if (blocks_.empty())
            size_ = bytes; // (blocks of one size are kept: a deque's nodes all have the same)
        if (bytes == size_) {
            blocks_.push_back(p);
            return;
        }
        ::operator delete(p);
    }
    // Frees all but `keep` blocks.
    void trim(std::size_t keep)
    {
        while (blocks_.size() > keep) {
            ::operator delete(blocks_.back());
            blocks_.pop_back();
        }
    }
    std::size_t count() const { return blocks_.size(); }

private:
    std::vector<void *> blocks_;
    std::size_t size_ = 0;
};

// A std allocator over a SpareBlocks owned elsewhere (which must outlive the container). Only
// blocks of Pooled (a deque's nodes) go through it; others, rebound (a deque's map), do not.
template<typename T, typename Pooled = T> class SpareBlockAllocator
{
public:
    using value_type = T;
    template<typename U> struct rebind {
        using other = SpareBlockAllocator<U, Pooled>;
    };
    static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);

    explicit SpareBlockAllocator(SpareBlocks &blocks) noexcept : blocks_(&blocks) { }
    template<typename U>
    SpareBlockAllocator(const SpareBlockAllocator<U, Pooled> &other) noexcept : blocks_(other.blocks_)
    { }

    T *allocate(std::size_t n)
    {
        if constexpr (std::is_same_v<T, Pooled>)
            return static_cast<T *>(blocks_->allocate(n * sizeof(T)));
        else
            return static_cast<T *>(::operator new(n * sizeof(T)));
    }
    void deallocate(T *p, std::size_t n) noexcept
    {
        if constexpr (std::is_same_v<T, Pooled>)
            blocks_->deallocate(p, n * sizeof(T));
        else
            ::operator delete(p);
    }

    friend bool operator==(const SpareBlockAllocator &a, const SpareBlockAllocator &b) noexcept
    {
        return a.blocks_ == b.blocks_;
    }

private:
    template<typename U, typename P> friend class SpareBlockAllocator;
    SpareBlocks *blocks_;
};

} // namespace sss::core
