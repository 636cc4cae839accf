// Small helpers shared by the scale benchmarks.
#pragma once

#include <QtGlobal>
#include <chrono>
#include <malloc.h>

namespace sss::bench {

using Steady = std::chrono::steady_clock;

// Heap in use (mallinfo2): the arena's allocated bytes plus mmap'ed blocks.
inline qint64 heapInUse()
{
    const struct mallinfo2 mi = mallinfo2();
    return qint64(mi.uordblks + mi.hblkhd);
}

inline double secondsSince(Steady::time_point t0)
{
    return std::chrono::duration<double>(Steady::now() - t0).count();
}

} // namespace sss::bench
