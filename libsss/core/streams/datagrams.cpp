#include "datagrams.h"

#include "sendbuffer.h" // sharedSlice

#include <algorithm>
#include <cstring>

namespace sss::core {

namespace {
constexpr int kDoneRanges = 1024; // bounds the memory of remembered ids
}

DatagramReassembler::DatagramReassembler(qint64 maxBufferedBytes, Duration timeout)
    : maxBuffered_(std::max<qint64>(0, maxBufferedBytes)), timeout_(timeout)
{ }

void DatagramReassembler::markDone(uint64_t id)
{
    done_.insert(id);
    if (done_.rangeCount() > kDoneRanges)
        done_.keepHighest(kDoneRanges);
}

void DatagramReassembler::discard(uint64_t id, bool countDrop)
{
    auto it = partials_.find(id);
    if (it == partials_.end())
        return;
    byAge_.erase({it->second.firstSeen, id});
    buffered_ -= qint64(it->second.totalSize);
    partials_.erase(it);
    markDone(id);
    if (countDrop)
        ++dropped_;
}

std::optional<QByteArray> DatagramReassembler::insert(const DatagramFragment &f, Instant now)
{
    expire(now);
    const uint64_t len = uint64_t(f.data.size());
    if (len > f.totalSize || f.offset > f.totalSize - len || (len == 0 && f.totalSize != 0)) {
        ++rejected_;
        return std::nullopt;
    }
    if (done_.contains(f.datagramId))
        return std::nullopt; // duplicate of a delivered (or given up) datagram

    auto it = partials_.find(f.datagramId);
    if (it != partials_.end() && it->second.totalSize != f.totalSize) {
        ++rejected_;
        return std::nullopt;
    }
    if (it == partials_.end()) {
        if (len == f.totalSize) { // whole datagram in one fragment
            markDone(f.datagramId);
            return f.data;
        }
        if (f.totalSize > uint64_t(maxBuffered_)) { // can never fit
            markDone(f.datagramId);
            ++dropped_;
            return std::nullopt;
        }
        while (buffered_ + qint64(f.totalSize) > maxBuffered_ && !byAge_.empty())
            discard(byAge_.begin()->second, true);
        Partial p {f.totalSize, QByteArray(qsizetype(f.totalSize), Qt::Uninitialized), RangeSet(), now};
        it = partials_.emplace(f.datagramId, std::move(p)).first;
        byAge_.insert({now, f.datagramId});
        buffered_ += qint64(f.totalSize);
    }

    Partial &p = it->second;
    if (p.received.insert(f.offset, f.offset + len) == 0)
        return std::nullopt; // duplicate fragment
    std::memcpy(p.buffer.data() + f.offset, f.data.constData(), size_t(len));
    if (!p.received.containsRange(0, p.totalSize))
        return std::nullopt;
    QByteArray out = std::move(p.buffer);
    discard(f.datagramId, false);
    return out;
}

void DatagramReassembler::expire(Instant now)
{
    while (!byAge_.empty() && now - byAge_.begin()->first >= timeout_)
        discard(byAge_.begin()->second, true);
}

std::optional<Instant> DatagramReassembler::nextExpiry() const
{
    if (byAge_.empty())
        return std::nullopt;
    return byAge_.begin()->first + timeout_;
}

std::vector<DatagramFragment> fragmentDatagram(uint64_t datagramId, const QByteArray &datagram,
                                               qsizetype maxFragmentPayload)
{
    std::vector<DatagramFragment> out;
    const qsizetype step = std::max<qsizetype>(1, maxFragmentPayload);
    const uint64_t total = uint64_t(datagram.size());
    if (datagram.isEmpty()) {
        out.push_back({datagramId, 0, 0, QByteArray()});
        return out;
    }
    out.reserve(size_t((datagram.size() + step - 1) / step));
    for (qsizetype pos = 0; pos < datagram.size(); pos += step)
        out.push_back({datagramId, total, uint64_t(pos), sharedSlice(datagram, pos, step)});
    return out;
}

} // namespace sss::core
