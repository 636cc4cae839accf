// Starts `sss-perf server`, reads its PEERID/PORT line, runs small client tests against it and checks
// that each prints one JSON object whose figures are positive and consistent.
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>

class TestSssPerf : public QObject
{
    Q_OBJECT

private:
    QProcess server_;
    QString peer_;
    QString port_;

    QJsonObject runClient(const QStringList &extra)
    {
        QProcess client;
        client.start(SSS_PERF_BIN,
                     QStringList {"client", "--connect", "127.0.0.1:" + port_, "--peer", peer_, "--json"}
                         + extra);
        if (!client.waitForFinished(60000)) {
            client.kill();
            client.waitForFinished();
            qWarning() << "client timed out";
            return {};
        }
        const QByteArray out = client.readAllStandardOutput().trimmed();
        if (client.exitCode() != 0) {
            qWarning() << "client failed:" << out << client.readAllStandardError();
            return {};
        }
        const QList<QByteArray> lines = out.split('\n');
        QJsonParseError err;
        const QJsonDocument doc = QJsonDocument::fromJson(lines.last(), &err);
        if (err.error != QJsonParseError::NoError || !doc.isObject()) {
            qWarning() << "not JSON:" << out;
            return {};
        }
        return doc.object();
    }

private slots:
    void initTestCase()
    {
        server_.start(SSS_PERF_BIN, {"server", "--bind", "127.0.0.1"});
        QVERIFY2(server_.waitForStarted(10000), qPrintable(server_.errorString()));
        QVERIFY(server_.waitForReadyRead(10000));
        QTRY_VERIFY_WITH_TIMEOUT(server_.canReadLine(), 10000);
        const QString line = QString::fromUtf8(server_.readLine()).trimmed();
        const QStringList f = line.split(' ');
        QVERIFY2(f.size() == 4 && f[0] == "PEERID" && f[2] == "PORT", qPrintable(line));
        peer_ = f[1];
        port_ = f[3];
        QVERIFY(port_.toUInt() > 0);
    }

    void cleanupTestCase()
    {
        server_.kill();
        server_.waitForFinished(5000);
    }

    void bulk_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("upload 1 stream") << QStringList {"--bytes", "1048576"};
        QTest::newRow("upload 4 streams") << QStringList {"--bytes", "1048576", "--streams", "4"};
        QTest::newRow("download") << QStringList {"--bytes", "1048576", "--download"};
    }
    void bulk()
    {
        QFETCH(QStringList, args);
        const QJsonObject j = runClient(QStringList {"--mode", "bulk"} + args);
        QVERIFY(!j.isEmpty());
        QCOMPARE(j.value("mode").toString(), QString("bulk"));
        QCOMPARE(j.value("bytes").toDouble(), 1048576.0);
        QVERIFY(j.value("gbps").toDouble() > 0);
        QVERIFY(j.value("seconds").toDouble() > 0);
        QVERIFY(j.value("client_cpu_s").toDouble() > 0);
        QVERIFY(j.value("server_cpu_s").toDouble() > 0);
        QVERIFY(!j.value("cipher").toString().isEmpty());
        QVERIFY(j.contains("retransmitted_bytes") && j.contains("packets_lost"));
        // The client's own direction carries the megabyte on an upload: path MTU discovery has
        // raised its datagrams to 1452 on loopback (unless the portable path cannot probe).
        if (!args.contains("--download"))
            QCOMPARE(j.value("datagram_size").toInt(),
                     qEnvironmentVariableIntValue("SSS_UDP_PORTABLE") == 1 ? 1232 : 1452);
    }

    void requestResponse_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("Stream objects") << QStringList {};
        QTest::newRow("transactions") << QStringList {"--transactions"};
    }
    void requestResponse()
    {
        QFETCH(QStringList, args);
        const QJsonObject j
            = runClient(QStringList {"--mode", "rr", "--requests", "100", "--streams", "4"} + args);
        QVERIFY(!j.isEmpty());
        QCOMPARE(j.value("requests").toDouble(), 100.0);
        QCOMPARE(j.value("transactions").toBool(), !args.isEmpty());
        QVERIFY(j.value("rps").toDouble() > 0);
        const double p50 = j.value("p50_us").toDouble(), p90 = j.value("p90_us").toDouble(),
                     p99 = j.value("p99_us").toDouble();
        QVERIFY(p50 > 0);
        QVERIFY(p50 <= p90 && p90 <= p99);
    }

    void connect()
    {
        const QJsonObject j = runClient({"--mode", "connect", "--connections", "5"});
        QVERIFY(!j.isEmpty());
        QCOMPARE(j.value("connections").toInt(), 5);
        QVERIFY(j.value("p50_us").toDouble() > 0);
    }

    void datagram()
    {
        const QJsonObject j
            = runClient({"--mode", "datagram", "--seconds", "0.5", "--rate", "2000", "--size", "500"});
        QVERIFY(!j.isEmpty());
        QVERIFY(j.value("datagrams_sent").toDouble() > 0);
        QVERIFY(j.value("datagrams_received").toDouble() > 0);
    }

    void badPeerIsRejected()
    {
        QProcess client;
        client.start(SSS_PERF_BIN, {"client", "--connect", "127.0.0.1:" + port_, "--peer", "not-a-peer-id"});
        QVERIFY(client.waitForFinished(10000));
        QVERIFY(client.exitCode() != 0);
    }
};

QTEST_GUILESS_MAIN(TestSssPerf)
#include "tst_sssperf.moc"
