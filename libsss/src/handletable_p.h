// The Qt edge's tables by stream handle (Stream objects, transactions). Private API (not installed).
#pragma once

#include "channel/endpoint.h" // (core::StreamHandle)
#include "common/idtable.h"

namespace sss::detail {

template<typename T> using HandleTable = core::IdTable<T>;

} // namespace sss::detail
