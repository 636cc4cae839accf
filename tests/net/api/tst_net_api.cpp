// The public API over real UDP on 127.0.0.1: one process with two Hosts, and two processes.
#include "echo_p.h"
#include "testpeer_p.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QProcess>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>
#include <algorithm>
#include <sss/host.h>
#include <sss/server.h>
#include <sss/stream.h>

using namespace sss;
using sss::test::pattern;

namespace {

// A server Host listening for `service` (protocol "v1") and a client Host, both on 127.0.0.1.
struct HostPair {
    explicit HostPair(const QString &service)
    {
        ok = server.bind(QHostAddress::LocalHost, 0) && client.bind(QHostAddress::LocalHost, 0)
            && srv.listen(service, QStringLiteral("v1"));
    }
    Host server, client;
    Server srv {&server};
    bool ok = false;
};

// The same, offering the echo service.
struct EchoHosts : HostPair {
    EchoHosts() : HostPair(QStringLiteral("echo"))
    {
        QObject::connect(&srv, &Server::newConnection, &srv, [this] {
            while (Stream *s = srv.nextPendingConnection())
                sssTestEcho(s);
        });
    }
};
} // namespace

class TestNetApi : public QObject
{
    Q_OBJECT
private:
    // Runs the echo scenarios against a server at (peer, port) on 127.0.0.1.
    void exerciseEcho(Host *client, const PeerId &peer, quint16 port)
    {
        Stream s(client);
        QVERIFY(
            s.connectTo(peer, QStringLiteral("echo"), QStringLiteral("v1"), QHostAddress::LocalHost, port));
        QCOMPARE(s.write("ping"), qint64(4));
        QVERIFY2(s.waitForConnected(5000), qPrintable(s.errorString()));
        QCOMPARE(s.state(), Stream::State::Connected);
        QByteArray got;
        QTRY_VERIFY_WITH_TIMEOUT((got += s.readAll()).size() >= 4, 5000);
        QCOMPARE(got, QByteArray("ping"));

        // Bulk bytes, with blocking reads.
        const QByteArray big = pattern(2 * 1024 * 1024);
        QCOMPARE(s.write(big), qint64(big.size()));
        got.clear();
        QElapsedTimer t;
        t.start();
        while (got.size() < big.size() && t.elapsed() < 20000) {
            if (s.bytesAvailable() == 0)
                s.waitForReadyRead(1000);
            got += s.readAll();
        }
        QCOMPARE(got.size(), big.size());
        QVERIFY(got == big);
        QTRY_COMPARE_WITH_TIMEOUT(s.bytesToWrite(), qint64(0), 5000);

        // Substreams: request/response each.
        constexpr int kSubs = 50;
        QList<QByteArray> responses(kSubs);
        int done = 0;
        for (int i = 0; i < kSubs; ++i) {
            Stream *sub = s.openSubstream();
            QVERIFY(sub);
            sub->writeMessage("req" + QByteArray::number(i));
            connect(sub, &Stream::readyReadMessage, sub, [&, sub, i] {
                responses[i] = sub->readMessage();
                ++done;
            });
        }
        QTRY_COMPARE_WITH_TIMEOUT(done, kSubs, 10000);
        for (int i = 0; i < kSubs; ++i)
            QCOMPARE(responses[i], "req" + QByteArray::number(i));

        // Datagrams, small and fragmented (loopback does not lose them in practice).
        QList<QByteArray> dgs;
        connect(&s, &Stream::readyReadDatagram, &s, [&] {
            while (s.hasPendingDatagrams())
                dgs.append(s.readDatagram());
        });
        QVERIFY(s.writeDatagram("d1"));
        QVERIFY(s.writeDatagram(pattern(100000)));
        QTRY_COMPARE_WITH_TIMEOUT(dgs.size(), 2, 10000);
        QVERIFY(dgs.contains(QByteArray("d1")));
        QVERIFY(dgs.contains(pattern(100000)));

        // Clean end: our FIN is echoed back as the peer's FIN.
        QSignalSpy finished(&s, &QIODevice::readChannelFinished);
        QVERIFY(s.shutdown(Stream::ShutdownMode::Write));
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() > 0, 5000);
        QVERIFY(client->channels().size() >= 1);
    }

private slots:
    void inProcess()
    {
        Host server, client;
        QVERIFY2(server.bind(QHostAddress::LocalHost, 0), qPrintable(server.errorString()));
        QVERIFY(client.bind(QHostAddress::LocalHost, 0));
        QVERIFY(server.localPort() != 0);
        QCOMPARE(server.localAddress(), QHostAddress(QHostAddress::LocalHost));
        QVERIFY(!server.bind(QHostAddress::LocalHost, 0));
        QCOMPARE(server.error(), Host::Error::AlreadyBound);
        Server srv(&server);
        QVERIFY(srv.listen(QStringLiteral("echo"), QStringLiteral("v1")));
        connect(&srv, &Server::newConnection, &srv, [&] {
            while (Stream *s = srv.nextPendingConnection())
                sssTestEcho(s);
        });
        exerciseEcho(&client, server.peerId(), server.localPort());
    }

    // Path MTU discovery over the real kernel: probes leave with "don't fragment" and loopback
    // carries them, so the channel moves from 1,232-byte datagrams to the largest size it may probe.
    // Where the Host cannot set "don't fragment" (SSS_UDP_PORTABLE=1: QUdpSocket) it must not probe.
    void pathMtuDiscovery_data()
    {
        QTest::addColumn<int>("maxProbed");
        QTest::newRow("default 1452") << 1452;
        QTest::newRow("jumbo 9000") << 9000;
    }
    void pathMtuDiscovery()
    {
        QFETCH(int, maxProbed);
        HostConfig cfg;
        cfg.maxProbedDatagramSize = maxProbed;
        Host server, client;
        server.setConfig(cfg);
        client.setConfig(cfg);
        QVERIFY(server.bind(QHostAddress::LocalHost, 0));
        QVERIFY(client.bind(QHostAddress::LocalHost, 0));
        Server srv(&server);
        QVERIFY(srv.listen(QStringLiteral("echo"), QStringLiteral("v1")));
        connect(&srv, &Server::newConnection, &srv, [&] {
            while (Stream *s = srv.nextPendingConnection())
                sssTestEcho(s);
        });
        Stream s(&client);
        QVERIFY(s.connectTo(server.peerId(), QStringLiteral("echo"), QStringLiteral("v1"),
                            QHostAddress::LocalHost, server.localPort()));
        const QByteArray big = pattern(1024 * 1024);
        QCOMPARE(s.write(big), qint64(big.size()));
        QByteArray got;
        connect(&s, &QIODevice::readyRead, &s, [&] { got += s.readAll(); });
        QTRY_COMPARE_WITH_TIMEOUT(got.size(), big.size(), 20000);
        QVERIFY(got == big);
        const bool portable = qEnvironmentVariableIntValue("SSS_UDP_PORTABLE") == 1;
        const int expected = portable ? 1232 : maxProbed;
        QTRY_COMPARE_WITH_TIMEOUT(client.channels().value(0).maxDatagramSize, expected, 5000);
        const ChannelInfo c = client.channels().value(0);
        QCOMPARE(c.mtuProbesSent, portable ? 0u : 1u); // loopback carries the first probe
        QCOMPARE(c.mtuProbesLost, 0u);
        QCOMPARE(c.packetsLost, 0u);
    }

    // Streams uploading side by side take turns packet by packet, so one ACK covers dozens of
    // packets that alternate between them. The sender applies each stream's acknowledged data once
    // per ACK frame and reports it with one bytesWritten, not once per packet: with one pending run
    // for all streams, every packet broke the run, and this test counted ~15x as many signals.
    void parallelStreamsAckedOncePerAck()
    {
        HostPair h(QStringLiteral("sink"));
        QVERIFY(h.ok);
        qint64 received = 0;
        connect(&h.srv, &Server::newConnection, &h.srv, [&] {
            while (Stream *in = h.srv.nextPendingConnection()) {
                in->listen(Stream::ListenMode::AcceptSubstreams);
                connect(in, &Stream::newSubstream, in, [&received, in] {
                    while (Stream *sub = in->acceptSubstream())
                        connect(sub, &QIODevice::readyRead, sub,
                                [&received, sub] { received += sub->readAll().size(); });
                });
            }
        });
        constexpr int kStreams = 4;
        constexpr qint64 kBytes = 8 * 1024 * 1024;
        Stream top(&h.client);
        QVERIFY(top.connectTo(h.server.peerId(), QStringLiteral("sink"), QStringLiteral("v1"),
                              QHostAddress::LocalHost, h.server.localPort()));
        QVERIFY2(top.waitForConnected(5000), qPrintable(top.errorString()));
        const QByteArray big = pattern(int(kBytes));
        int emitted = 0;
        qint64 acked = 0;
        QList<Stream *> subs;
        for (int i = 0; i < kStreams; ++i) {
            Stream *sub = top.openSubstream();
            QVERIFY(sub);
            connect(sub, &QIODevice::bytesWritten, sub, [&](qint64 n) {
                ++emitted;
                acked += n;
            });
            subs.append(sub);
        }
        for (Stream *sub : std::as_const(subs))
            QCOMPARE(sub->write(big), kBytes);
        QTRY_COMPARE_WITH_TIMEOUT(acked, kStreams * kBytes, 30000);
        QCOMPARE(received, kStreams * kBytes);
        const ChannelInfo c = h.client.channels().value(0);
        QVERIFY(c.packetsReceived > 0);
        // About one signal per stream and ACK-carrying packet (twice that for the breaks losses make
        // in a stream's acknowledged data), and never one per data packet. (The portable path
        // without GRO acknowledges every few packets: then the first term is the larger.)
        const quint64 bound = std::max<quint64>(kStreams * c.packetsReceived * 2, c.packetsSent / 20) + 64;
        qInfo("%d bytesWritten signals for %llu packets sent, %llu received, %llu lost (bound %llu)", emitted,
              c.packetsSent, c.packetsReceived, c.packetsLost, bound);
        QVERIFY2(quint64(emitted) <= bound,
                 qPrintable(QStringLiteral("%1 bytesWritten signals, bound %2").arg(emitted).arg(bound)));
    }

    // Writes made by a slot are normally sent by the drive that delivered the signal, after the
    // slot returns (no event-loop wake-up per write). A slot that instead blocks in a nested event
    // loop (waitForReadyRead, a bare QEventLoop) must still see its writes go out at once: the Host
    // flushes from the dispatcher's aboutToBlock inside that loop. Without that, only the Host's
    // next timer (the 25 ms acknowledgement delay) would send them.
    void nestedLoopsInsideSlots()
    {
        EchoHosts h;
        QVERIFY(h.ok);
        Stream s(&h.client);
        QVERIFY(s.connectTo(h.server.peerId(), QStringLiteral("echo"), QStringLiteral("v1"),
                            QHostAddress::LocalHost, h.server.localPort()));
        QVERIFY(s.waitForConnected(5000));
        QByteArray got;
        bool started = false, finished = false;
        std::vector<qint64> blockingMs, bareMs;
        connect(&s, &QIODevice::readyRead, &s, [&] {
            if (started)
                return;
            started = true;
            got += s.readAll(); // "go"
            QElapsedTimer t;
            for (int i = 0; i < 5; ++i) {
                // A blocking round trip from inside the slot.
                const QByteArray req = "w" + QByteArray::number(i);
                t.start();
                s.write(req);
                while (!got.endsWith(req) && t.elapsed() < 5000) {
                    if (s.bytesAvailable() == 0)
                        s.waitForReadyRead(1000);
                    got += s.readAll();
                }
                blockingMs.push_back(got.endsWith(req) ? t.elapsed() : 99999);
                // The same with a bare nested event loop that knows nothing of SSS.
                const QByteArray req2 = "e" + QByteArray::number(i);
                t.start();
                s.write(req2);
                QEventLoop loop;
                QTimer poll;
                connect(&poll, &QTimer::timeout, &loop, [&] {
                    got += s.readAll();
                    if (got.endsWith(req2) || t.elapsed() > 5000)
                        loop.quit();
                });
                poll.start(0);
                loop.exec();
                bareMs.push_back(got.endsWith(req2) ? t.elapsed() : 99999);
            }
            finished = true;
        });
        s.write("go");
        QTRY_VERIFY_WITH_TIMEOUT(finished, 60000);
        QCOMPARE(got, QByteArray("gow0e0w1e1w2e2w3e3w4e4"));
        std::sort(blockingMs.begin(), blockingMs.end());
        std::sort(bareMs.begin(), bareMs.end());
        qInfo("nested round trips, median: waitForReadyRead %lld ms, bare QEventLoop %lld ms", blockingMs[2],
              bareMs[2]);
        QVERIFY2(blockingMs[2] < 15 && bareMs[2] < 15, "writes inside nested loops waited for a timer");
    }

    void serviceNotFound()
    {
        Host server, client;
        QVERIFY(server.bind(QHostAddress::LocalHost, 0));
        QVERIFY(client.bind(QHostAddress::LocalHost, 0));
        Stream s(&client);
        QVERIFY(s.connectTo(server.peerId(), QStringLiteral("none"), QStringLiteral("v1"),
                            QHostAddress::LocalHost, server.localPort()));
        QVERIFY(!s.waitForConnected(5000));
        QCOMPARE(s.error(), Stream::Error::ServiceNotFound);
    }

    void wrongPeerIdFails()
    {
        // The address answers, but with another identity: the client must not connect.
        HostPair h(QStringLiteral("echo"));
        QVERIFY(h.ok);
        HostConfig cfg = h.client.config();
        h.client.close();
        cfg.handshakeTimeout = std::chrono::milliseconds(1500);
        h.client.setConfig(cfg);
        QVERIFY(h.client.bind(QHostAddress::LocalHost, 0));
        Stream s(&h.client);
        QVERIFY(s.connectTo(Identity::generate().peerId(), QStringLiteral("echo"), QStringLiteral("v1"),
                            QHostAddress::LocalHost, h.server.localPort()));
        QVERIFY(!s.waitForConnected(8000));
        QVERIFY(s.error() != Stream::Error::NoError);
        QCOMPARE(h.srv.hasPendingConnections(), false);
    }

    void bindConflict()
    {
        Host a, b;
        QVERIFY(a.bind(QHostAddress::LocalHost, 0));
        QSignalSpy errors(&b, &Host::errorOccurred);
        QVERIFY(!b.bind(QHostAddress::LocalHost, a.localPort()));
        QCOMPARE(b.error(), Host::Error::BindFailed);
        QVERIFY(!b.errorString().isEmpty());
        QCOMPARE(errors.count(), 1);
        QVERIFY(!b.isBound());
    }

    void twoProcesses()
    {
        QProcess peer;
        PeerId id;
        quint16 port = 0;
        const QString error = test::startTestPeer(peer, QStringLiteral(SSS_TEST_PEER), {}, &id, &port);
        QVERIFY2(error.isEmpty(), qPrintable(error));

        Host client;
        QVERIFY(client.bind(QHostAddress::LocalHost, 0));
        exerciseEcho(&client, id, port);

        peer.closeWriteChannel(); // asks the peer to quit
        if (!peer.waitForFinished(5000)) {
            peer.kill();
            peer.waitForFinished(2000);
        }
        QCOMPARE(peer.exitStatus(), QProcess::NormalExit);
        QCOMPARE(peer.exitCode(), 0);
    }
};

QTEST_GUILESS_MAIN(TestNetApi)
#include "tst_net_api.moc"
