// Best-effort datagrams larger than a packet: fragments and their reassembly.
#pragma once

#include "common/rangeset.h"
#include "common/types.h"

#include <QByteArray>
#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sss::core {

struct DatagramFragment {
    uint64_t datagramId = 0;
    uint64_t totalSize = 0;
    uint64_t offset = 0;
    QByteArray data;
};

class DatagramReassembler
{
public:
    DatagramReassembler(qint64 maxBufferedBytes, Duration timeout);

    // Returns the complete datagram when its last missing fragment arrives (a datagram that fits
    // one fragment is returned at once, without copying). Incomplete ones are discarded `timeout`
    // after their first fragment, or oldest first when the memory bound would be exceeded.
    // Delivered whole or not at all, at most once per id (completed and discarded ids are
    // remembered); malformed fragments and ones whose totalSize disagrees are dropped.
    std::optional<QByteArray> insert(const DatagramFragment &f, Instant now);
    void expire(Instant now);
    std::optional<Instant> nextExpiry() const;

    // Memory held: the full size of every incomplete datagram (allocated on its first fragment).
    qint64 bufferedBytes() const { return buffered_; }
    quint64 droppedDatagrams() const { return dropped_; } // incomplete ones discarded
    quint64 rejectedFragments() const { return rejected_; } // malformed or inconsistent
    int pendingDatagrams() const { return int(partials_.size()); }

private:
    struct Partial {
        uint64_t totalSize;
        QByteArray buffer;
        RangeSet received;
        Instant firstSeen;
    };
    void discard(uint64_t id, bool countDrop);
    void markDone(uint64_t id);

    qint64 maxBuffered_;
    Duration timeout_;
    std::unordered_map<uint64_t, Partial> partials_;
    std::set<std::pair<Instant, uint64_t>> byAge_;
    RangeSet done_; // ids completed or discarded (compact for sequential ids, bounded below)
    qint64 buffered_ = 0;
    quint64 dropped_ = 0;
    quint64 rejected_ = 0;
};

// Splits a datagram into fragments of at most maxFragmentPayload bytes (sharing its memory).
std::vector<DatagramFragment> fragmentDatagram(uint64_t datagramId, const QByteArray &datagram,
                                               qsizetype maxFragmentPayload);

} // namespace sss::core
