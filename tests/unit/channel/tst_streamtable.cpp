// A session's stream table (core::IdTable keyed by a random key of the session's): a peer chooses
// which wire ids of its stream credit it opens, so ids it aims at one slot (spaced by the table
// size) must not build long probe runs, which would make every lookup of those streams walk them.
#include "channel/session.h"
#include "channel/shared.h"
#include "common/idtable.h"

#include <QTest>
#include <random>

using namespace sss;
using namespace sss::core;

namespace {
const QString kSvc = QStringLiteral("svc"), kProto = QStringLiteral("p");
// Ids that every power-of-two table up to 2^21 slots indexes by their low bits to one slot; odd,
// as an initiator's peer's are.
constexpr quint64 kSpacing = quint64(1) << 21;
constexpr int kIds = 1000;

quint64 aimedId(int k)
{
    return (quint64(k + 1) * kSpacing) | 1;
}
} // namespace

class tst_StreamTable : public QObject
{
    Q_OBJECT

private slots:
    void unkeyedTableChainsAimedIds()
    {
        // What a table indexed by the ids' low bits does with them (why wire ids use a keyed one).
        IdTable<int> t;
        for (int k = 0; k < kIds; ++k)
            t.add(aimedId(k)) = k;
        QCOMPARE(t.maxProbe(), size_t(kIds - 1));
    }

    void keyedTableSpreadsIds()
    {
        std::mt19937_64 prng(1);
        for (int trial = 0; trial < 100; ++trial) {
            IdTable<int, 4, true> aimed(prng()), sequential(prng());
            for (int k = 0; k < kIds; ++k) {
                aimed.add(aimedId(k)) = k;
                sequential.add(quint64(2 * k + 1)) = k;
            }
            QVERIFY2(aimed.maxProbe() < 64, qPrintable(QString::number(aimed.maxProbe())));
            QVERIFY2(sequential.maxProbe() < 64, qPrintable(QString::number(sequential.maxProbe())));
            // Removals keep every other id reachable (backward-shift erase by the keyed home slot).
            for (int k = 0; k < kIds; k += 2)
                aimed.remove(aimedId(k));
            QCOMPARE(aimed.size(), size_t(kIds / 2));
            for (int k = 0; k < kIds; ++k)
                QCOMPARE(aimed.find(aimedId(k)) != nullptr, k % 2 == 1);
        }
    }

    void sessionStreamsFromAimedIds()
    {
        // A peer opening streams with those ids (all within a raised stream credit).
        EndpointShared ep;
        std::mt19937_64 prng(2);
        ep.random = [&](uint8_t *out, size_t n) {
            for (size_t i = 0; i < n; ++i)
                out[i] = uint8_t(prng());
        };
        ep.config.maxIncomingStreams = quint64(kIds + 1) * kSpacing;
        ep.listeners.insert(qMakePair(kSvc, kProto));
        Session s(ep, QByteArray(32, 'p'), QByteArray(16, 's'), true);
        TransportParams p;
        p.sessionId = QByteArray(16, 's');
        p.initialMaxData = 1 << 20;
        p.initialMaxStreamData = 1 << 16;
        p.initialMaxStreams = 16;
        p.maxDatagramSize = 1200;
        s.setPeerParams(p);
        wire::Frame f;
        f.type = wire::FrameType::Stream;
        f.stream.open = wire::OpenInfo {0, 0, wire::StreamKind::Stream, kSvc, kProto};
        for (int k = 0; k < kIds; ++k) {
            f.stream.id = aimedId(k);
            QVERIFY(s.handleFrame(Instant {}, f));
        }
        QCOMPARE(s.streamCount(), kIds);
        QVERIFY2(s.streamTableMaxProbe() < 64, qPrintable(QString::number(s.streamTableMaxProbe())));
        for (int k = 0; k < kIds; ++k)
            QVERIFY(s.stream(aimedId(k)));
    }
};

QTEST_GUILESS_MAIN(tst_StreamTable)
#include "tst_streamtable.moc"
