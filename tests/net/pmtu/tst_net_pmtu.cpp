// Path MTU discovery through the kernel: the client's probes larger than the veth's 1400-byte MTU
// are refused locally (EMSGSIZE, "don't fragment"), so the search must settle just under the
// 1,372 bytes of UDP payload an IPv4 packet of 1400 bytes carries, while a transfer runs through
// it intact. Sets up a namespace and a veth pair with `ip`, and removes them again.
#include "../api/testpeer_p.h"
#include "udptransport.h"

#include <QProcess>
#include <QTest>
#include <sss/host.h>
#include <sss/identity.h>
#include <sss/stream.h>
#include <unistd.h>

using namespace sss;

using sss::test::pattern;

namespace {
// Runs `ip args...`; returns its stderr on failure, an empty string on success.
QString ip(const QStringList &args)
{
    QProcess p;
    p.start(QStringLiteral("ip"), args);
    if (!p.waitForStarted(5000))
        return QStringLiteral("cannot run ip: ") + p.errorString();
    p.waitForFinished(10000);
    if (p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0)
        return {};
    const QString err = QString::fromLocal8Bit(p.readAllStandardError()).trimmed();
    return QStringLiteral("ip %1: %2").arg(args.join(u' '), err.isEmpty() ? QStringLiteral("failed") : err);
}
} // namespace

class TestNetPmtu : public QObject
{
    Q_OBJECT
    const QString ns_ = QStringLiteral("sss-pmtu-%1").arg(::getpid());
    const QString vethHere_ = QStringLiteral("sssp%1a").arg(::getpid() % 100000);
    const QString vethThere_ = QStringLiteral("sssp%1b").arg(::getpid() % 100000);
    const QString addrHere_ = QStringLiteral("10.213.77.1"), addrThere_ = QStringLiteral("10.213.77.2");
    bool created_ = false;

private slots:
    void initTestCase()
    {
        if (::geteuid() != 0)
            QSKIP("needs root (network namespaces and a veth pair): run as root to include this test");
        if (const QString e = ip({QStringLiteral("netns"), QStringLiteral("add"), ns_}); !e.isEmpty())
            QSKIP(qPrintable(QStringLiteral("network namespaces unavailable here (%1)").arg(e)));
        created_ = true;
        const QStringList steps[] = {
            {"link", "add", vethHere_, "mtu", "1400", "type", "veth", "peer", "name", vethThere_, "mtu",
             "1400"},
            {"link", "set", vethThere_, "netns", ns_},
            {"addr", "add", addrHere_ + "/30", "dev", vethHere_},
            {"link", "set", vethHere_, "up"},
            {"-n", ns_, "addr", "add", addrThere_ + "/30", "dev", vethThere_},
            {"-n", ns_, "link", "set", vethThere_, "up"},
            {"-n", ns_, "link", "set", "lo", "up"},
        };
        for (const QStringList &s : steps)
            if (const QString e = ip(s); !e.isEmpty())
                QSKIP(qPrintable(QStringLiteral("cannot set up the veth pair (%1)").arg(e)));
    }

    void cleanupTestCase()
    {
        if (!created_)
            return;
        ip({QStringLiteral("link"), QStringLiteral("del"), vethHere_}); // takes its peer along
        ip({QStringLiteral("netns"), QStringLiteral("del"), ns_});
    }

    void discoversVethMtu()
    {
        QProcess peer;
        PeerId id;
        quint16 port = 0;
        const QString error = test::startTestPeer(
            peer, QStringLiteral("ip"),
            {QStringLiteral("netns"), QStringLiteral("exec"), ns_, QStringLiteral(SSS_TEST_PEER), addrThere_},
            &id, &port);
        QVERIFY2(error.isEmpty(), qPrintable(error));

        Host client;
        QVERIFY2(client.bind(QHostAddress(addrHere_), 0), qPrintable(client.errorString()));
        Stream s(&client);
        QVERIFY(
            s.connectTo(id, QStringLiteral("echo"), QStringLiteral("v1"), QHostAddress(addrThere_), port));
        QByteArray got;
        connect(&s, &QIODevice::readyRead, &s, [&] { got += s.readAll(); });
        const QByteArray big = pattern(4 * 1024 * 1024);
        QCOMPARE(s.write(big), qint64(big.size()));
        QTRY_COMPARE_WITH_TIMEOUT(got.size(), big.size(), 30000);
        QVERIFY(got == big);
        // The search ends once the interval is under 16 bytes; 1452 and the halvings above 1372
        // each take three lost probes.
        QTRY_VERIFY_WITH_TIMEOUT(client.channels().value(0).maxDatagramSize > 1372 - 16, 10000);
        const ChannelInfo c = client.channels().value(0);
        qInfo("size %d after %llu probes, %llu lost; %llu packets lost", c.maxDatagramSize, c.mtuProbesSent,
              c.mtuProbesLost, c.packetsLost);
        QVERIFY2(c.maxDatagramSize <= 1372, qPrintable(QString::number(c.maxDatagramSize)));
        QVERIFY(c.mtuProbesLost >= 3);
        QCOMPARE(c.mtuBlackHoles, 0u);

        peer.closeWriteChannel();
        if (!peer.waitForFinished(5000))
            peer.kill();
    }

    // A GSO run whose first datagram is larger than the interface MTU (a probe, then a data packet
    // to the same peer) is refused whole with EMSGSIZE. The transport resends it datagram by
    // datagram: the probe is lost, the data packet goes out, and GSO stays on, because the
    // device can segment; it was one datagram that was too big.
    void gsoSurvivesOversizedDatagram()
    {
        detail::UdpTransport t;
        QVERIFY2(t.bind(QHostAddress(addrHere_), 0), qPrintable(t.errorString()));
        if (!t.isFastPath() || !t.gsoEnabled())
            QSKIP("needs the Linux fast path with GSO");
        const core::SocketAddress to {QHostAddress(addrThere_), 9}; // discard: nobody needs to listen
        const core::Transmit batch[] = {{to, QByteArray(1452, 'p')}, {to, QByteArray(1300, 'd')}};
        t.send(batch, 2);
        QCOMPARE(t.stats().sendErrors, 1u); // the 1452-byte datagram: beyond the 1400-byte MTU
        QCOMPARE(t.stats().datagramsSent, 1u);
        QVERIFY(t.gsoEnabled());
    }
};

QTEST_MAIN(TestNetPmtu)
#include "tst_net_pmtu.moc"
