// core::IdTable (libsss/core/common/idtable.h), unkeyed: the Qt edge's tables of Stream objects
// and transactions by stream handle. Checked against a std::map under random adds and removes, with
// handles chosen to collide and wrap around. (The keyed table: tst_streamtable.cpp.)
#include "common/idtable.h"

#include <QByteArray>
#include <QRandomGenerator>
#include <QTest>
#include <map>

using Table = sss::core::IdTable<QByteArray>;
using StreamHandle = Table::Handle;

class tst_IdTable : public QObject
{
    Q_OBJECT

private:
    static void same(Table &t, const std::map<StreamHandle, QByteArray> &ref)
    {
        QCOMPARE(t.size(), ref.size());
        QCOMPARE(t.empty(), ref.empty());
        for (const auto &[h, v] : ref) {
            QByteArray *found = t.find(h);
            QVERIFY2(found, qPrintable(QStringLiteral("handle %1").arg(h)));
            QCOMPARE(*found, v);
        }
        size_t n = 0;
        t.forEach([&](StreamHandle h, const QByteArray &v) {
            ++n;
            QVERIFY(ref.count(h));
            QCOMPARE(v, ref.at(h));
        });
        QCOMPARE(n, ref.size());
    }

private slots:
    void addFindRemove()
    {
        Table t;
        QVERIFY(t.empty());
        QVERIFY(!t.find(1));
        t.remove(1); // (absent: nothing)
        t.add(5) = "five";
        t.add(21) = "twenty-one"; // same home slot as 5 in 16 slots
        t.add(37) = "thirty-seven";
        QCOMPARE(*t.find(37), QByteArray("thirty-seven"));
        t.remove(5); // the run behind it moves up
        QVERIFY(!t.find(5));
        QCOMPARE(*t.find(21), QByteArray("twenty-one"));
        QCOMPARE(*t.find(37), QByteArray("thirty-seven"));
        t.add(5) = "again";
        QCOMPARE(*t.find(5), QByteArray("again"));
        QCOMPARE(t.size(), size_t(3));
        t.clear();
        QVERIFY(t.empty() && !t.find(21));
        QVERIFY(t.add(21).isNull()); // a fresh value
    }

    void matchesMap_data()
    {
        QTest::addColumn<int>("stride");
        QTest::newRow("sequential") << 1;
        QTest::newRow("colliding") << 16; // every handle on the same home slot while small
        QTest::newRow("mixed") << 7;
    }
    void matchesMap()
    {
        QFETCH(int, stride);
        QRandomGenerator rng(quint32(stride) * 7919);
        Table t;
        std::map<StreamHandle, QByteArray> ref;
        StreamHandle next = 13; // (starts near the end of the first table: probes wrap around)
        for (int step = 0; step < 20000; ++step) {
            const bool add = ref.empty() || rng.bounded(100) < (ref.size() < 40 ? 60 : 40);
            if (add) {
                const StreamHandle h = next;
                next += StreamHandle(stride);
                const QByteArray v = QByteArray::number(h);
                QVERIFY(!t.find(h));
                t.add(h) = v;
                ref[h] = v;
            } else {
                auto it = ref.begin();
                std::advance(it, rng.bounded(int(ref.size())));
                t.remove(it->first);
                ref.erase(it);
            }
            if (step % 97 == 0)
                same(t, ref);
        }
        same(t, ref);
    }
};

QTEST_APPLESS_MAIN(tst_IdTable)
#include "tst_idtable.moc"
