// Micro-benchmarks of the core's hot paths (Google Benchmark). Not a test: run by hand, e.g.
//   bench_core --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Every benchmark checks what it computed and reports an error instead of a figure if it is wrong.
#include "common/buffer.h"
#include "common/rangeset.h"
#include "corepair.h"
#include "crypto/aead.h"
#include "streams/recvbuffer.h"
#include "streams/scheduler.h"
#include "wire/frames.h"

#include <algorithm>
#include <benchmark/benchmark.h>
#include <random>
#include <vector>

using namespace sss;
using namespace sss::core;

namespace {

constexpr int kPacket = 1200;
constexpr int kHeader = 16; // associated data: a short-header-sized prefix

const char *suiteName(crypto::CipherSuite s)
{
    return s == crypto::CipherSuite::Aes256Gcm ? "AES-256-GCM"
        : s == crypto::CipherSuite::Null       ? "Null"
                                               : "ChaCha20-Poly1305";
}

std::unique_ptr<crypto::PacketProtection> makeProtection(benchmark::State &state, crypto::CipherSuite suite)
{
    state.SetLabel(suiteName(suite));
    auto p = crypto::PacketProtection::create(suite, QByteArray(32, '\x11'), QByteArray(12, '\x22'));
    if (!p)
        state.SkipWithError("cipher suite unavailable on this CPU");
    return p;
}

// ---------------------------------------------------------------- packet protection
void BM_Seal(benchmark::State &state)
{
    const auto suite = crypto::CipherSuite(state.range(0));
    auto p = makeProtection(state, suite);
    if (!p)
        return;
    std::vector<uint8_t> ad(kHeader, 0x40), buf(kPacket + crypto::PacketProtection::kTagSize, 0x5a);
    uint64_t pn = 0;
    for (auto _ : state) {
        p->seal(pn++, ad.data(), ad.size(), buf.data(), kPacket, buf.data()); // in place, as the sender does
        benchmark::DoNotOptimize(buf.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * kPacket);
    state.counters["pkt/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Open(benchmark::State &state)
{
    const auto suite = crypto::CipherSuite(state.range(0));
    auto p = makeProtection(state, suite);
    if (!p)
        return;
    std::vector<uint8_t> ad(kHeader, 0x40), sealed(kPacket + crypto::PacketProtection::kTagSize, 0x5a),
        out(kPacket);
    p->seal(7, ad.data(), ad.size(), sealed.data(), kPacket, sealed.data());
    for (auto _ : state) {
        // Out of place so the ciphertext stays valid; a failed open would be a bug, so stop.
        if (!p->open(7, ad.data(), ad.size(), sealed.data(), sealed.size(), out.data())) {
            state.SkipWithError("open failed");
            break;
        }
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * kPacket);
    state.counters["pkt/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

void suiteArgs(benchmark::internal::Benchmark *b)
{
    b->ArgName("suite");
    for (auto s :
         {crypto::CipherSuite::ChaCha20Poly1305, crypto::CipherSuite::Aes256Gcm, crypto::CipherSuite::Null})
        b->Arg(int64_t(s));
}
BENCHMARK(BM_Seal)->Apply(suiteArgs);
BENCHMARK(BM_Open)->Apply(suiteArgs);

// ---------------------------------------------------------------- frame codec
constexpr int kStreamPayload = 1150;

void BM_StreamFrameEncode(benchmark::State &state)
{
    const QByteArray payload(kStreamPayload, 'x');
    QByteArray out;
    out.reserve(kPacket);
    quint64 offset = 1'000'000;
    for (auto _ : state) {
        out.resize(0); // keeps the capacity: no allocation per packet, like the packet builder
        Writer w(out);
        wire::writeStreamHeader(w, 4, offset, kStreamPayload, false, false, nullptr);
        w.bytes(payload.constData(), kStreamPayload);
        offset += kStreamPayload;
        benchmark::DoNotOptimize(out.constData());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * kStreamPayload);
}
BENCHMARK(BM_StreamFrameEncode);

void BM_StreamFrameDecode(benchmark::State &state)
{
    QByteArray pkt;
    Writer w(pkt);
    wire::writeStreamHeader(w, 4, 1'000'000, kStreamPayload, false, false, nullptr);
    w.bytes(QByteArray(kStreamPayload, 'x'));
    for (auto _ : state) {
        qsizetype total = 0;
        const bool ok = wire::forEachFrame(pkt.constData(), pkt.size(),
                                           [&](const wire::Frame &f) { total += f.stream.length; });
        if (!ok || total != kStreamPayload) {
            state.SkipWithError("stream frame did not decode");
            break;
        }
        benchmark::DoNotOptimize(total);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * kStreamPayload);
}
BENCHMARK(BM_StreamFrameDecode);

// An ack set of `n` ranges of 10 packets separated by gaps of 2, ending near packet 1e6.
RangeSet ackRanges(int n)
{
    RangeSet r;
    uint64_t pn = 1'000'000;
    for (int i = 0; i < n; ++i) {
        r.insert(pn - 10, pn);
        pn -= 12;
    }
    return r;
}

void BM_AckEncode(benchmark::State &state)
{
    const RangeSet ranges = ackRanges(int(state.range(0)));
    QByteArray out;
    out.reserve(kPacket);
    for (auto _ : state) {
        out.resize(0);
        Writer w(out);
        wire::writeAck(w, ranges, 1234, 32);
        benchmark::DoNotOptimize(out.constData());
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_AckEncode)->ArgName("ranges")->Arg(1)->Arg(8)->Arg(32);

void BM_AckDecode(benchmark::State &state)
{
    const int n = int(state.range(0));
    const RangeSet ranges = ackRanges(n);
    QByteArray pkt;
    Writer w(pkt);
    wire::writeAck(w, ranges, 1234, 32);
    for (auto _ : state) {
        int got = -1;
        const bool ok = wire::forEachFrame(pkt.constData(), pkt.size(),
                                           [&](const wire::Frame &f) { got = f.ack.ranges.rangeCount(); });
        if (!ok || got != n) {
            state.SkipWithError("ack frame did not decode");
            break;
        }
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_AckDecode)->ArgName("ranges")->Arg(1)->Arg(8)->Arg(32);

// ---------------------------------------------------------------- whole core, two endpoints
// Bulk stream A -> B through two Endpoints in one process (acks B -> A): bytes/s of the whole core
// on one CPU core, both ends included. The handshake and slow start happen before timing.
void BM_CoreBulkTransfer(benchmark::State &state)
{
    const auto cipher = bench::PairCipher(state.range(0));
    if (cipher == bench::PairCipher::Aes && !crypto::aes256GcmAvailable()) {
        state.SkipWithError("AES-256-GCM unavailable on this CPU");
        return;
    }
    state.SetLabel(cipher == bench::PairCipher::Aes ? "AES-256-GCM" : "ChaCha20-Poly1305");
    constexpr qint64 kChunk = 4 * 1024 * 1024;
    bench::CorePair pair(cipher);
    if (!pair.transfer(16 * 1024 * 1024)) { // warm up: handshake, windows and cwnd grown
        state.SkipWithError("warm-up transfer failed");
        return;
    }
    const quint64 packets0 = pair.packets();
    for (auto _ : state) {
        if (!pair.transfer(kChunk)) {
            state.SkipWithError("transfer failed or stalled");
            break;
        }
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * kChunk);
    state.counters["pkt/s"]
        = benchmark::Counter(double(pair.packets() - packets0), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CoreBulkTransfer)
    ->ArgName("aes")
    ->Arg(int(bench::PairCipher::ChaCha))
    ->Arg(int(bench::PairCipher::Aes))
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- stream reassembly
constexpr int kSegments = 1024;

// Order in which kSegments segments arrive: in order, or with `reorderPercent` of them delayed by
// 1..8 positions (deterministic).
std::vector<int> arrivalOrder(int reorderPercent)
{
    std::vector<int> order(kSegments);
    for (int i = 0; i < kSegments; ++i)
        order[size_t(i)] = i;
    std::mt19937 rng(42);
    for (int i = 0; i + 1 < kSegments; ++i) {
        if (int(rng() % 100) < reorderPercent) {
            const int j = std::min(kSegments - 1, i + 1 + int(rng() % 8));
            std::rotate(order.begin() + i, order.begin() + i + 1, order.begin() + j + 1); // i moves to j
        }
    }
    return order;
}

void BM_RecvBuffer(benchmark::State &state)
{
    const int reorder = int(state.range(0));
    const std::vector<int> order = arrivalOrder(reorder);
    const QByteArray data(kSegments * kStreamPayload, 'r');
    // Segments share one allocation, as received packets do not (close enough: insert keeps a reference).
    std::vector<QByteArray> segs;
    for (int i = 0; i < kSegments; ++i)
        segs.push_back(data.mid(qsizetype(i) * kStreamPayload, kStreamPayload));
    char out[64 * 1024];
    for (auto _ : state) {
        RecvBuffer rb;
        qint64 read = 0;
        for (int i : order) {
            if (rb.insert(uint64_t(i) * kStreamPayload, segs[size_t(i)], false, false, UINT64_MAX / 2)
                != RecvBuffer::Result::Ok) {
                state.SkipWithError("insert rejected");
                return;
            }
            while (rb.bytesAvailable() > 0)
                read += rb.peek(out, sizeof out), rb.read(sizeof out);
        }
        if (read != data.size()) {
            state.SkipWithError("not everything was read");
            return;
        }
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * data.size());
}
BENCHMARK(BM_RecvBuffer)->ArgName("reorder_pct")->Arg(0)->Arg(10);

// ---------------------------------------------------------------- scheduler
// One "packet" = pick front() and rotate it (its quantum is used), all streams at one priority.
void BM_SchedulerRotate(benchmark::State &state)
{
    const int n = int(state.range(0));
    PriorityScheduler s;
    std::vector<PriorityScheduler::Node> nodes(static_cast<size_t>(n));
    for (PriorityScheduler::Node &node : nodes)
        s.setActive(node, 0);
    for (auto _ : state) {
        PriorityScheduler::Node *front = s.front();
        s.rotate(*front);
        benchmark::DoNotOptimize(front);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_SchedulerRotate)->ArgName("streams")->Arg(10)->Arg(1000)->Arg(100000);

// Churn over 8 priority levels: the front stream runs dry (removed) and another one becomes active
// again at a pseudo-random level, as when applications write in bursts.
void BM_SchedulerChurn(benchmark::State &state)
{
    const int n = int(state.range(0));
    PriorityScheduler s;
    std::mt19937 rng(7);
    // n + 1 nodes: the one just removed is reactivated next (as a recycled stream state is).
    std::vector<PriorityScheduler::Node> nodes(static_cast<size_t>(n) + 1);
    for (int i = 0; i < n; ++i)
        s.setActive(nodes[size_t(i)], int(rng() % 8));
    PriorityScheduler::Node *spare = &nodes[size_t(n)];
    for (auto _ : state) {
        PriorityScheduler::Node *front = s.front();
        s.remove(*front);
        s.setActive(*spare, int(rng() % 8));
        spare = front;
    }
    if (s.size() != n)
        state.SkipWithError("scheduler lost or gained streams");
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_SchedulerChurn)->ArgName("streams")->Arg(10)->Arg(1000)->Arg(100000);

// ---------------------------------------------------------------- RangeSet
enum Pattern { Sequential = 0, Reverse = 1, EveryOther = 2, Random = 3, AckWindow = 4 };
constexpr int kInserts = 4096;

void BM_RangeSetInsert(benchmark::State &state)
{
    const auto pattern = Pattern(state.range(0));
    const char *names[] = {"sequential", "reverse", "every-other-then-fill", "random", "ack-window"};
    state.SetLabel(names[pattern]);
    std::vector<uint64_t> values;
    std::mt19937_64 rng(3);
    for (int i = 0; i < kInserts; ++i) {
        switch (pattern) {
        case Sequential:
            values.push_back(uint64_t(i));
            break;
        case AckWindow: // every 3rd packet arrives two places late
            values.push_back(i % 3 == 2 ? uint64_t(i - 2) : uint64_t(i + 1));
            break;
        case Reverse:
            values.push_back(uint64_t(kInserts - 1 - i));
            break;
        case EveryOther:
            values.push_back(i < kInserts / 2 ? uint64_t(i) * 2 : uint64_t(i - kInserts / 2) * 2 + 1);
            break;
        case Random:
            values.push_back(uint64_t(i));
            break;
        }
    }
    if (pattern == Random)
        std::shuffle(values.begin(), values.end(), rng);
    for (auto _ : state) {
        RangeSet r;
        for (size_t i = 0; i < values.size(); ++i) {
            r.insert(values[i]);
            // Ack tracking bounds old state.
            if (pattern == AckWindow && i % 64 == 63)
                r.keepHighest(32);
        }
        benchmark::DoNotOptimize(r.rangeCount());
        if (pattern != AckWindow && (r.rangeCount() != 1 || r.totalCount() != uint64_t(kInserts))) {
            state.SkipWithError("set content wrong");
            break;
        }
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * kInserts);
}
BENCHMARK(BM_RangeSetInsert)->ArgName("pattern")->DenseRange(0, 4);

} // namespace

BENCHMARK_MAIN();
