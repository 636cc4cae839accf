// UdpTransport on loopback: both backends, GSO/GRO coalescing correctness, address handling, errors.
#include "sendruns_p.h"
#include "udptransport.h"

#include <QHash>
#include <QList>
#include <QtTest>

using sss::core::SocketAddress;
using sss::core::Transmit;
using sss::detail::UdpTransport;
using Mode = UdpTransport::Mode;

Q_DECLARE_METATYPE(UdpTransport::Mode)

namespace {

struct Received {
    SocketAddress from;
    QByteArray bytes;
};

// Collects everything a transport receives, and counts batch ends.
struct Sink {
    QList<Received> got;
    int batches = 0;
    void attach(UdpTransport &t)
    {
        t.setHandlers(
            [this](const SocketAddress &from, const char *data, qsizetype size) {
                got.append({from, QByteArray(data, size)});
            },
            [this] { ++batches; });
    }
};

SocketAddress loopbackOf(const UdpTransport &t,
                         const QHostAddress &host = QHostAddress(QHostAddress::LocalHost))
{
    return {host, t.localAddress().port};
}

// Datagram content derived from its sequence number, so the receiver can check every byte.
QByteArray payload(quint32 seq, int size)
{
    QByteArray b(size, Qt::Uninitialized);
    for (int i = 0; i < size; ++i)
        b[i] = char((seq * 131u + quint32(i) * 7u) & 0xff);
    if (size >= 4)
        qToBigEndian(seq, b.data());
    return b;
}

bool fastPathExpected(Mode mode)
{
#ifdef Q_OS_LINUX
    return mode == Mode::Auto && qEnvironmentVariableIntValue("SSS_UDP_PORTABLE") != 1;
#else
    Q_UNUSED(mode);
    return false;
#endif
}

} // namespace

class TestUdpTransport : public QObject
{
    Q_OBJECT
private slots:
    void bind_data();
    void bind();
    void echo_data() { modes(); }
    void echo();
    void bulkMixed_data();
    void bulkMixed();
    void sendInRunsFillsGsoRuns_data();
    void sendInRunsFillsGsoRuns();
    void dualStackReportsPlainIPv4_data() { modes(); }
    void dualStackReportsPlainIPv4();
    void ipv6Loopback_data() { modes(); }
    void ipv6Loopback();
    void takenPortFails_data() { modes(); }
    void takenPortFails();
    void unsendableCountsAsLoss_data() { modes(); }
    void unsendableCountsAsLoss();
    void closeInsideHandler_data() { modes(); }
    void closeInsideHandler();

private:
    static void modes()
    {
        QTest::addColumn<Mode>("mode");
        QTest::newRow("auto") << Mode::Auto;
        QTest::newRow("portable") << Mode::Portable;
    }
};

void TestUdpTransport::bind_data()
{
    QTest::addColumn<Mode>("mode");
    QTest::addColumn<QHostAddress>("address");
    QTest::addColumn<QHostAddress>("expectedHost");
    for (Mode m : {Mode::Auto, Mode::Portable}) {
        const char *name = m == Mode::Auto ? "auto" : "portable";
        QTest::addRow("%s/127.0.0.1", name)
            << m << QHostAddress(QHostAddress::LocalHost) << QHostAddress(QHostAddress::LocalHost);
        QTest::addRow("%s/any", name)
            << m << QHostAddress(QHostAddress::Any) << QHostAddress(QHostAddress::Any);
        QTest::addRow("%s/anyIPv4", name)
            << m << QHostAddress(QHostAddress::AnyIPv4) << QHostAddress(QHostAddress::AnyIPv4);
    }
}

void TestUdpTransport::bind()
{
    QFETCH(Mode, mode);
    QFETCH(QHostAddress, address);
    QFETCH(QHostAddress, expectedHost);
    UdpTransport t;
    QVERIFY(!t.isBound());
    QVERIFY2(t.bind(address, 0, mode), qPrintable(t.errorString()));
    QVERIFY(t.isBound());
    QCOMPARE(t.isFastPath(), fastPathExpected(mode));
    const SocketAddress local = t.localAddress();
    QVERIFY(local.port != 0);
    QCOMPARE(local.host, expectedHost);
    QVERIFY(!t.bind(address, 0, mode)); // already bound
    if (t.isFastPath()) {
        // This kernel (6.18) supports both; the test documents that the fast path actually uses them.
        QVERIFY(t.gsoEnabled());
        QVERIFY(t.groEnabled());
        QVERIFY(t.dontFragment()); // path MTU discovery depends on it
    } else {
        QVERIFY(!t.gsoEnabled());
        QVERIFY(!t.groEnabled());
        QVERIFY(!t.dontFragment()); // QUdpSocket cannot set it: the Host then does not probe
    }
    t.close();
    QVERIFY(!t.isBound());
    QVERIFY2(t.bind(address, 0, mode), qPrintable(t.errorString())); // reusable after close
}

void TestUdpTransport::echo()
{
    QFETCH(Mode, mode);
    UdpTransport a, b;
    QVERIFY2(a.bind(QHostAddress::LocalHost, 0, mode), qPrintable(a.errorString()));
    QVERIFY2(b.bind(QHostAddress::LocalHost, 0, mode), qPrintable(b.errorString()));
    Sink sa;
    sa.attach(a);
    int bBatches = 0;
    b.setHandlers(
        [&b](const SocketAddress &from, const char *data, qsizetype size) {
            const Transmit back {from, QByteArray(data, size)};
            b.send(&back, 1);
        },
        [&bBatches] { ++bBatches; });

    const Transmit hello {loopbackOf(b), QByteArrayLiteral("hello, sss")};
    a.send(&hello, 1);
    QTRY_COMPARE_WITH_TIMEOUT(sa.got.size(), 1, 5000);
    QCOMPARE(sa.got[0].bytes, hello.bytes);
    QCOMPARE(sa.got[0].from, loopbackOf(b));
    QCOMPARE(sa.got[0].from.host.protocol(), QAbstractSocket::IPv4Protocol);
    QVERIFY(sa.batches >= 1);
    QVERIFY(bBatches >= 1);

    const auto as = a.stats(), bs = b.stats();
    QCOMPARE(as.datagramsSent, 1u);
    QCOMPARE(as.datagramsReceived, 1u);
    QCOMPARE(bs.datagramsSent, 1u);
    QCOMPARE(bs.datagramsReceived, 1u);
    QVERIFY(as.sendCalls >= 1);
    QVERIFY(as.recvCalls >= 1);
    QCOMPARE(as.sendErrors, 0u);
    QCOMPARE(as.gsoBatches, 0u); // a single datagram never uses GSO
}

void TestUdpTransport::bulkMixed_data()
{
    QTest::addColumn<Mode>("senderMode");
    QTest::addColumn<Mode>("receiverMode");
    QTest::addColumn<bool>("senderDualStack");
    QTest::newRow("auto->auto") << Mode::Auto << Mode::Auto << false;
    QTest::newRow("auto(any)->auto") << Mode::Auto << Mode::Auto << true;
    QTest::newRow("auto->portable") << Mode::Auto << Mode::Portable << false;
    QTest::newRow("portable->auto") << Mode::Portable << Mode::Auto << false;
    QTest::newRow("portable->portable") << Mode::Portable << Mode::Portable << false;
}

// 1000 datagrams of mixed sizes to two receivers, interleaved, in ONE send() call: runs longer than
// 64 segments, runs whose last datagram is shorter, runs that a larger datagram must break, singles,
// and a receiver switch in the middle of equal-size runs. Every datagram must arrive exactly once,
// byte-exact, at the right receiver.
void TestUdpTransport::bulkMixed()
{
    QFETCH(Mode, senderMode);
    QFETCH(Mode, receiverMode);
    QFETCH(bool, senderDualStack);
    UdpTransport s, r1, r2;
    QVERIFY2(s.bind(senderDualStack ? QHostAddress(QHostAddress::Any) : QHostAddress(QHostAddress::LocalHost),
                    0, senderMode),
             qPrintable(s.errorString()));
    QVERIFY2(r1.bind(QHostAddress::LocalHost, 0, receiverMode), qPrintable(r1.errorString()));
    QVERIFY2(r2.bind(QHostAddress::LocalHost, 0, receiverMode), qPrintable(r2.errorString()));
    Sink k1, k2;
    k1.attach(r1);
    k2.attach(r2);
    const SocketAddress to1 = loopbackOf(r1), to2 = loopbackOf(r2);

    QList<Transmit> batch;
    QHash<quint32, int> expectedAt; // seq -> receiver (1 or 2)
    quint32 seq = 0;
    auto add = [&](int receiver, int size) {
        batch.append({receiver == 1 ? to1 : to2, payload(seq, size)});
        expectedAt.insert(seq, receiver);
        ++seq;
    };
    static const int kSizes[] = {1200, 1452, 64, 1000, 9000, 4, 1199, 512};
    int round = 0;
    while (batch.size() < 1000) {
        const int size = kSizes[round % std::size(kSizes)];
        const int receiver = (round % 3 == 2) ? 2 : 1;
        const int runLength = 1 + (round * 37) % 90; // 1..90: some runs exceed 64 segments
        for (int i = 0; i < runLength && batch.size() < 1000; ++i)
            add(receiver, size);
        switch (round % 4) {
        case 0: // shorter last segment of the run
            if (batch.size() < 1000 && size > 4)
                add(receiver, size - 3);
            break;
        case 1: // same size, other receiver: must not be merged
            if (batch.size() < 1000)
                add(3 - receiver, size);
            break;
        case 2: // larger datagram to the same receiver: must start a new message
            if (batch.size() < 1000)
                add(receiver, size + 100);
            break;
        default:
            break;
        }
        ++round;
    }
    QCOMPARE(batch.size(), 1000);
    int count1 = 0;
    for (int v : std::as_const(expectedAt))
        count1 += v == 1;
    const int count2 = 1000 - count1;

    s.send(batch.constData(), batch.size());
    const auto st = s.stats();
    QCOMPARE(st.sendErrors, 0u);
    QCOMPARE(st.datagramsSent, 1000u);
    if (s.isFastPath()) {
        QVERIFY(s.gsoEnabled());
        QVERIFY2(st.gsoBatches > 10, qPrintable(QString::number(st.gsoBatches)));
        QVERIFY2(st.sendCalls < 100, qPrintable(QString::number(st.sendCalls)));
    } else {
        QCOMPARE(st.gsoBatches, 0u);
        QCOMPARE(st.sendCalls, 1000u);
    }

    QTRY_COMPARE_WITH_TIMEOUT(k1.got.size() + k2.got.size(), 1000, 10000);
    QCOMPARE(k1.got.size(), count1);
    QCOMPARE(k2.got.size(), count2);
    const SocketAddress sender = loopbackOf(s);
    QSet<quint32> seen;
    for (int which : {1, 2}) {
        for (const Received &rx : std::as_const(which == 1 ? k1.got : k2.got)) {
            QCOMPARE(rx.from, sender);
            QVERIFY(rx.bytes.size() >= 4);
            const quint32 n = qFromBigEndian<quint32>(rx.bytes.constData());
            QVERIFY2(n < 1000, "sequence out of range");
            QVERIFY2(!seen.contains(n), "duplicate datagram");
            seen.insert(n);
            QCOMPARE(expectedAt.value(n), which);
            QCOMPARE(rx.bytes, batch[int(n)].bytes);
        }
    }
    QCOMPARE(r1.stats().datagramsReceived + r2.stats().datagramsReceived, 1000u);
    QVERIFY(r1.stats().recvCalls >= 1);
    QVERIFY(k1.batches >= 1);
}

void TestUdpTransport::sendInRunsFillsGsoRuns_data()
{
    QTest::addColumn<QList<int>>("sizes"); // of the packets the driver polls, in order
    QTest::addColumn<QList<int>>("chunks"); // datagrams per send() expected
    QTest::addColumn<int>("gsoMessages"); // on the fast path; -1: one per chunk of more than one
    auto repeat = [](int n, int size) { return QList<int>(n, size); };
    QTest::newRow("1452") << repeat(100, 1452) << QList<int> {45, 45, 10} << -1;
    QTest::newRow("1232") << repeat(120, 1232) << QList<int> {53, 53, 14} << -1;
    QTest::newRow("9000") << repeat(16, 9000) << QList<int> {7, 7, 2} << -1;
    QTest::newRow("small: the segment limit") << repeat(130, 100) << QList<int> {64, 64, 2} << -1;
    QTest::newRow("exactly one run") << repeat(45, 1452) << QList<int> {45} << -1;
    QTest::newRow("one") << repeat(1, 1452) << QList<int> {1} << -1;
    QTest::newRow("none") << QList<int> {} << QList<int> {} << -1;
    // A short packet (an ACK) between full ones counts towards the chunk's bytes (46 fit in 65,507)
    // and ends a GSO message (a shorter segment must be the last): 31 + 15, then 15.
    QTest::newRow("mixed") << (repeat(30, 1452) + QList<int> {60} + repeat(30, 1452)) << QList<int> {46, 15}
                           << 3;
}

// The driver's batching (sendInRuns(), used by Host) hands the transport one full UDP_SEGMENT run per
// send: no chunk goes past what one GSO message carries, and none is cut short while packets remain.
// On the fast path every send is then exactly one GSO message.
void TestUdpTransport::sendInRunsFillsGsoRuns()
{
    QFETCH(QList<int>, sizes);
    QFETCH(QList<int>, chunks);
    QFETCH(int, gsoMessages);
    UdpTransport s, r;
    QVERIFY2(s.bind(QHostAddress::LocalHost, 0), qPrintable(s.errorString()));
    QVERIFY2(r.bind(QHostAddress::LocalHost, 0), qPrintable(r.errorString()));
    Sink k;
    k.attach(r);
    const SocketAddress to = loopbackOf(r);

    std::vector<Transmit> batch; // as Host keeps it: reused across drives
    QList<int> got;
    for (int pass = 0; pass < 2; ++pass) { // the second pass reuses the buffers of the first
        got.clear();
        k.got.clear();
        const auto before = s.stats();
        qsizetype next = 0;
        const qsizetype n = sss::detail::sendInRuns(
            batch,
            [&](Transmit &tx) {
                if (next == sizes.size())
                    return false;
                tx.to = to;
                tx.bytes = payload(quint32(next), sizes[next]);
                ++next;
                return true;
            },
            [&](const Transmit *tx, qsizetype count) {
                qsizetype bytes = 0;
                for (qsizetype i = 0; i < count; ++i)
                    bytes += tx[i].bytes.size();
                QVERIFY2(bytes <= UdpTransport::kMaxRunBytes, qPrintable(QString::number(bytes)));
                QVERIFY(count <= UdpTransport::kMaxRunDatagrams);
                got.append(int(count));
                s.send(tx, count);
            });
        QCOMPARE(n, qsizetype(sizes.size()));
        QCOMPARE(got, chunks);
        const auto after = s.stats();
        QCOMPARE(after.datagramsSent - before.datagramsSent, quint64(sizes.size()));
        if (s.isFastPath() && s.gsoEnabled()) {
            quint64 multi = 0; // chunks of more than one datagram: each one GSO message
            for (int c : std::as_const(chunks))
                multi += c > 1 ? 1 : 0;
            QCOMPARE(after.gsoBatches - before.gsoBatches, gsoMessages < 0 ? multi : quint64(gsoMessages));
            QCOMPARE(after.sendCalls - before.sendCalls, quint64(chunks.size()));
        }
        QTRY_COMPARE_WITH_TIMEOUT(k.got.size(), sizes.size(), 5000);
        for (int i = 0; i < sizes.size(); ++i) // one socket pair on loopback keeps order
            QCOMPARE(k.got[i].bytes, payload(quint32(i), sizes[i]));
    }
}

void TestUdpTransport::dualStackReportsPlainIPv4()
{
    QFETCH(Mode, mode);
    UdpTransport any, v4;
    QVERIFY2(any.bind(QHostAddress::Any, 0, mode), qPrintable(any.errorString()));
    QVERIFY2(v4.bind(QHostAddress::LocalHost, 0, mode), qPrintable(v4.errorString()));
    Sink k;
    k.attach(any);
    const Transmit t {loopbackOf(any), QByteArrayLiteral("mapped?")};
    v4.send(&t, 1);
    QTRY_COMPARE_WITH_TIMEOUT(k.got.size(), 1, 5000);
    QCOMPARE(k.got[0].from.host.protocol(), QAbstractSocket::IPv4Protocol);
    QCOMPARE(k.got[0].from, loopbackOf(v4));
}

void TestUdpTransport::ipv6Loopback()
{
    QFETCH(Mode, mode);
    UdpTransport a, b;
    if (!a.bind(QHostAddress::LocalHostIPv6, 0, mode))
        QSKIP(
            qPrintable(QStringLiteral("IPv6 loopback ::1 is not configured here (%1)").arg(a.errorString())));
    QVERIFY2(b.bind(QHostAddress::LocalHostIPv6, 0, mode), qPrintable(b.errorString()));
    QCOMPARE(a.localAddress().host, QHostAddress(QHostAddress::LocalHostIPv6));
    Sink kb;
    kb.attach(b);
    const SocketAddress to = loopbackOf(b, QHostAddress(QHostAddress::LocalHostIPv6));
    QList<Transmit> batch;
    for (quint32 i = 0; i < 100; ++i)
        batch.append({to, payload(i, i == 99 ? 700 : 1232)});
    a.send(batch.constData(), batch.size());
    QTRY_COMPARE_WITH_TIMEOUT(kb.got.size(), 100, 5000);
    for (int i = 0; i < 100; ++i) {
        QCOMPARE(kb.got[i].from, loopbackOf(a, QHostAddress(QHostAddress::LocalHostIPv6)));
        QCOMPARE(kb.got[i].bytes, batch[i].bytes); // one socket pair on loopback keeps order
    }
    if (a.isFastPath())
        QVERIFY(a.stats().gsoBatches >= 2);
}

void TestUdpTransport::takenPortFails()
{
    QFETCH(Mode, mode);
    UdpTransport a;
    QVERIFY2(a.bind(QHostAddress::LocalHost, 0, mode), qPrintable(a.errorString()));
    const quint16 port = a.localAddress().port;
    for (Mode other : {Mode::Auto, Mode::Portable}) {
        UdpTransport b;
        QVERIFY(!b.bind(QHostAddress::LocalHost, port, other));
        QVERIFY(!b.errorString().isEmpty());
        QVERIFY(!b.isBound());
        // The failed transport stays usable: it binds elsewhere afterwards.
        QVERIFY2(b.bind(QHostAddress::LocalHost, 0, other), qPrintable(b.errorString()));
    }
    UdpTransport c;
    QVERIFY(!c.bind(QHostAddress::Any, port, mode)); // the wildcard overlaps 127.0.0.1:port
}

void TestUdpTransport::unsendableCountsAsLoss()
{
    QFETCH(Mode, mode);
    UdpTransport a, b;
    QVERIFY2(a.bind(QHostAddress::LocalHost, 0, mode), qPrintable(a.errorString()));
    QVERIFY2(b.bind(QHostAddress::LocalHost, 0, mode), qPrintable(b.errorString()));
    Sink kb;
    kb.attach(b);
    const QList<Transmit> batch {
        {{QHostAddress(QHostAddress::LocalHostIPv6), 9},
         QByteArray(100, 'x')}, // wrong family for this socket
        {loopbackOf(b), QByteArray(100, 'a')},
        {{QHostAddress(), 0}, QByteArray(10, 'n')}, // null address
        {loopbackOf(b), QByteArray(70000, 'z')}, // larger than any UDP datagram
        {loopbackOf(b), QByteArray(100, 'b')},
    };
    a.send(batch.constData(), batch.size());
    a.send(nullptr, 3); // ignored
    QTRY_COMPARE_WITH_TIMEOUT(kb.got.size(), 2, 5000);
    QCOMPARE(kb.got[0].bytes, batch[1].bytes);
    QCOMPARE(kb.got[1].bytes, batch[4].bytes);
    QCOMPARE(a.stats().sendErrors, 3u);
    QCOMPARE(a.stats().datagramsSent, 2u);
    QVERIFY(a.isBound()); // errors are never fatal
}

void TestUdpTransport::closeInsideHandler()
{
    QFETCH(Mode, mode);
    UdpTransport a, b;
    QVERIFY2(a.bind(QHostAddress::LocalHost, 0, mode), qPrintable(a.errorString()));
    QVERIFY2(b.bind(QHostAddress::LocalHost, 0, mode), qPrintable(b.errorString()));
    int got = 0, batches = 0;
    b.setHandlers(
        [&](const SocketAddress &, const char *, qsizetype) {
            ++got;
            b.close();
        },
        [&] { ++batches; });
    QList<Transmit> batch;
    for (int i = 0; i < 50; ++i)
        batch.append({loopbackOf(b), QByteArray(1200, 'c')});
    a.send(batch.constData(), batch.size());
    QTRY_COMPARE_WITH_TIMEOUT(got, 1, 5000);
    QTest::qWait(50);
    QCOMPARE(got, 1); // nothing delivered after close()
    QCOMPARE(batches, 0);
    QVERIFY(!b.isBound());
}

QTEST_GUILESS_MAIN(TestUdpTransport)
#include "tst_udptransport.moc"
