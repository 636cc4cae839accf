// Test helpers for simulator-based tests: the seeds to run with and a guard that prints the seed of
// a failing test so the run can be reproduced (SSS_SEED=<n>). Header-only because it needs QtTest,
// which the sss_sim library itself does not link.
#pragma once

#include <QByteArray>
#include <QList>
#include <QTest>
#include <cstdint>
#include <cstdio>

namespace sss::sim {

// Fixed, well-spread seeds (splitmix64 of 1, 2, ...) so that the default run is the same everywhere.
inline uint64_t defaultSeed(int index)
{
    uint64_t z = uint64_t(index + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// testSeeds(count): SSS_SEED=<n> runs that one seed (to reproduce a failure); otherwise SSS_SEEDS=<k>
// overrides the count; otherwise `count` default seeds.
inline QList<uint64_t> testSeeds(int count)
{
    bool ok = false;
    const QByteArray one = qgetenv("SSS_SEED");
    if (!one.isEmpty()) {
        const uint64_t seed = one.toULongLong(&ok, 0);
        if (ok)
            return {seed};
        std::fprintf(stderr, "[sim] ignoring unparsable SSS_SEED=%s\n", one.constData());
    }
    const QByteArray n = qgetenv("SSS_SEEDS");
    if (!n.isEmpty()) {
        const int k = n.toInt(&ok);
        if (ok && k > 0)
            count = k;
    }
    QList<uint64_t> seeds;
    for (int i = 0; i < count; ++i)
        seeds.append(defaultSeed(i));
    return seeds;
}

// In a _data() function: adds a quint64 "seed" column and one row per seed ("seed=<n>").
inline void addSeedRows(int count)
{
    QTest::addColumn<quint64>("seed");
    for (uint64_t s : testSeeds(count))
        QTest::addRow("seed=%llu", static_cast<unsigned long long>(s)) << quint64(s);
}

// Put one at the top of a test body: if the test fails (including an early return from a failed
// QVERIFY/QCOMPARE), its destructor prints the seed and how to re-run it.
class SeedGuard
{
public:
    explicit SeedGuard(uint64_t seed) : seed_(seed) { }
    ~SeedGuard()
    {
        if (QTest::currentTestFailed())
            std::fprintf(stderr, "[sim] seed=%llu (reproduce with SSS_SEED=%llu)\n",
                         static_cast<unsigned long long>(seed_), static_cast<unsigned long long>(seed_));
    }
    SeedGuard(const SeedGuard &) = delete;
    SeedGuard &operator=(const SeedGuard &) = delete;
    uint64_t seed() const { return seed_; }

private:
    uint64_t seed_;
};

} // namespace sss::sim

#define SSS_SEED_GUARD(seed) ::sss::sim::SeedGuard sssSeedGuard_(seed)
