#include "streams/scheduler.h"

#include <QElapsedTimer>
#include <QTest>
#include <map>
#include <unordered_map>

using namespace sss::core;

namespace {
// The scheduler links nodes its user owns (a session's streams); these tests name them by id.
class IdScheduler
{
public:
    void setActive(uint64_t id, int priority)
    {
        IdNode &n = nodes_[id];
        n.id = id;
        s_.setActive(n, priority);
    }
    void remove(uint64_t id)
    {
        if (IdNode *n = find(id))
            s_.remove(*n);
    }
    void rotate(uint64_t id)
    {
        if (IdNode *n = find(id))
            s_.rotate(*n);
    }
    bool isActive(uint64_t id) { return find(id) && PriorityScheduler::isActive(*find(id)); }
    bool isActiveAt(uint64_t id, int p) { return find(id) && PriorityScheduler::isActiveAt(*find(id), p); }
    std::optional<int> priorityOf(uint64_t id)
    {
        return isActive(id) ? std::optional<int>(find(id)->priority) : std::nullopt;
    }
    std::optional<uint64_t> front() const
    {
        const PriorityScheduler::Node *n = s_.front();
        return n ? std::optional<uint64_t>(static_cast<const IdNode *>(n)->id) : std::nullopt;
    }
    bool isEmpty() const { return s_.isEmpty(); }
    qsizetype size() const { return s_.size(); }
    std::optional<int> highestPriority() const { return s_.highestPriority(); }
    void clear() { s_.clear(); }

private:
    struct IdNode : PriorityScheduler::Node {
        uint64_t id = 0;
    };
    IdNode *find(uint64_t id)
    {
        const auto it = nodes_.find(id);
        return it == nodes_.end() ? nullptr : &it->second;
    }
    PriorityScheduler s_;
    std::unordered_map<uint64_t, IdNode> nodes_; // (node addresses are stable)
};
} // namespace

class TestScheduler : public QObject
{
    Q_OBJECT
private slots:
    void empty();
    void strictPriority_data();
    void strictPriority();
    void roundRobinFairness();
    void priorityChange();
    void removeAndRotateEdgeCases();
    void emptiedOnlyLevel();
    void isActiveAt();
    void millionIds();
};

void TestScheduler::empty()
{
    IdScheduler s;
    QVERIFY(s.isEmpty());
    QCOMPARE(s.size(), 0);
    QVERIFY(!s.front());
    QVERIFY(!s.highestPriority());
    s.rotate(5);
    s.remove(5);
    QVERIFY(s.isEmpty());
}

void TestScheduler::strictPriority_data()
{
    // "id:prio" activations; expected service order when each served id is removed.
    QTest::addColumn<QString>("activations");
    QTest::addColumn<QString>("order");
    QTest::newRow("higher first") << "1:0,2:5,3:-3"
                                  << "2,1,3";
    QTest::newRow("fifo within level") << "4:1,2:1,9:1"
                                       << "4,2,9";
    QTest::newRow("mixed") << "1:1,2:2,3:1,4:2,5:0"
                           << "2,4,1,3,5";
    QTest::newRow("negative levels") << "1:-5,2:-1,3:-10"
                                     << "2,1,3";
    QTest::newRow("reactivate same prio keeps place") << "1:0,2:0,1:0"
                                                      << "1,2";
    QTest::newRow("extreme ints") << "1:-2147483648,2:2147483647"
                                  << "2,1";
}

void TestScheduler::strictPriority()
{
    QFETCH(QString, activations);
    QFETCH(QString, order);
    IdScheduler s;
    for (const QString &a : activations.split(u',')) {
        const auto p = a.split(u':');
        s.setActive(p[0].toULongLong(), p[1].toInt());
    }
    QStringList got;
    while (auto f = s.front()) {
        got << QString::number(*f);
        s.remove(*f);
    }
    QCOMPARE(got.join(u','), order);
}

void TestScheduler::roundRobinFairness()
{
    IdScheduler s;
    for (uint64_t id = 10; id < 15; ++id)
        s.setActive(id, 3);
    s.setActive(99, 1); // lower level: starved while level 3 is busy
    std::map<uint64_t, int> served;
    for (int i = 0; i < 1000; ++i) {
        const uint64_t id = *s.front();
        ++served[id];
        s.rotate(id);
    }
    QCOMPARE(served.size(), size_t(5));
    for (const auto &[id, n] : served)
        QCOMPARE(n, 200);
    // Strict order: the low level only runs once the high level empties.
    for (uint64_t id = 10; id < 15; ++id)
        s.remove(id);
    QCOMPARE(s.front(), std::optional<uint64_t>(99));
    QCOMPARE(s.highestPriority(), std::optional<int>(1));
}

void TestScheduler::priorityChange()
{
    IdScheduler s;
    s.setActive(1, 0);
    s.setActive(2, 0);
    s.setActive(3, 0);
    s.setActive(4, 5);
    QCOMPARE(*s.front(), uint64_t(4));
    s.setActive(4, 0); // demoted: joins the back of level 0
    QCOMPARE(s.highestPriority(), std::optional<int>(0));
    QCOMPARE(s.priorityOf(4), std::optional<int>(0));
    QStringList order;
    for (int i = 0; i < 4; ++i) {
        order << QString::number(*s.front());
        s.rotate(*s.front());
    }
    QCOMPARE(order.join(u','), "1,2,3,4");
    s.setActive(2, 7); // promoted: served first, alone at its level
    QCOMPARE(*s.front(), uint64_t(2));
    s.rotate(2);
    QCOMPARE(*s.front(), uint64_t(2));
    QCOMPARE(s.size(), 4);
    s.remove(2);
    QCOMPARE(s.highestPriority(), std::optional<int>(0));
    QVERIFY(!s.isActive(2));
    QVERIFY(!s.priorityOf(2));
}

void TestScheduler::removeAndRotateEdgeCases()
{
    IdScheduler s;
    for (uint64_t id = 1; id <= 4; ++id)
        s.setActive(id, 0);
    s.remove(2); // middle
    s.remove(4); // tail
    s.rotate(1); // head -> tail
    QCOMPARE(*s.front(), uint64_t(3));
    s.rotate(1); // already tail: no change
    QCOMPARE(*s.front(), uint64_t(3));
    s.remove(3);
    s.remove(1);
    QVERIFY(s.isEmpty());
    QVERIFY(!s.highestPriority());
    s.setActive(7, 2);
    QCOMPARE(*s.front(), uint64_t(7));
    s.clear();
    QVERIFY(s.isEmpty() && !s.front());
}

// The last level to empty is kept (a request/response stream activates and retires one level
// per request): it must stay invisible and give way to any other level.
void TestScheduler::emptiedOnlyLevel()
{
    IdScheduler s;
    s.setActive(1, 3);
    s.remove(1);
    QVERIFY(s.isEmpty());
    QVERIFY(!s.front());
    QVERIFY(!s.highestPriority());
    s.rotate(1);
    s.remove(1);
    QVERIFY(!s.front());
    // A new stream at another level (lower and higher than the kept one).
    s.setActive(2, 1);
    QCOMPARE(s.front(), std::optional<uint64_t>(2));
    QCOMPARE(s.highestPriority(), std::optional<int>(1));
    s.remove(2);
    s.setActive(3, 7);
    s.setActive(4, 5);
    QCOMPARE(s.highestPriority(), std::optional<int>(7));
    QCOMPARE(s.front(), std::optional<uint64_t>(3));
    s.remove(3); // level 7 empties beside level 5: dropped
    QCOMPARE(s.front(), std::optional<uint64_t>(4));
    QCOMPARE(s.highestPriority(), std::optional<int>(5));
    // Moving the only stream to another level, and back.
    s.setActive(4, -2);
    QCOMPARE(s.highestPriority(), std::optional<int>(-2));
    s.setActive(5, 0);
    QCOMPARE(s.front(), std::optional<uint64_t>(5));
    s.remove(5);
    s.remove(4);
    QVERIFY(!s.front());
    QVERIFY(!s.highestPriority());
    s.setActive(6, -2);
    s.setActive(7, -2);
    QCOMPARE(s.front(), std::optional<uint64_t>(6));
    s.rotate(6);
    QCOMPARE(s.front(), std::optional<uint64_t>(7));
    QCOMPARE(s.size(), 2);
}

void TestScheduler::isActiveAt()
{
    IdScheduler s;
    QVERIFY(!s.isActiveAt(1, 0));
    s.setActive(1, 0);
    s.setActive(2, 4);
    QVERIFY(s.isActiveAt(1, 0)); // (not the last one touched)
    QVERIFY(!s.isActiveAt(1, 4));
    QVERIFY(s.isActiveAt(2, 4));
    s.setActive(2, 1);
    QVERIFY(!s.isActiveAt(2, 4));
    QVERIFY(s.isActiveAt(2, 1));
    s.remove(2);
    QVERIFY(!s.isActiveAt(2, 1));
    s.setActive(2, 1); // back, under the same id
    QVERIFY(s.isActiveAt(2, 1));
    QCOMPARE(s.front(), std::optional<uint64_t>(2));
    s.clear();
    QVERIFY(!s.isActiveAt(2, 1));
    QVERIFY(!s.front());
}

void TestScheduler::millionIds()
{
    QElapsedTimer t;
    t.start();
    IdScheduler s;
    constexpr uint64_t n = 1000000;
    for (uint64_t id = 0; id < n; ++id)
        s.setActive(id, int(id % 8));
    QCOMPARE(s.size(), qsizetype(n));
    QCOMPARE(s.highestPriority(), std::optional<int>(7));
    // Serve the top level round robin, change priorities, then drain everything.
    for (int i = 0; i < 1000000; ++i)
        s.rotate(*s.front());
    for (uint64_t id = 0; id < n; id += 3)
        s.setActive(id, int(id % 5));
    uint64_t removed = 0;
    int last = INT_MAX;
    while (auto f = s.front()) {
        const int p = *s.highestPriority();
        QVERIFY(p <= last);
        last = p;
        s.remove(*f);
        ++removed;
    }
    QCOMPARE(removed, n);
    // Loose bound: O(n log n) work finishes in well under a second; O(n^2) never would.
    QVERIFY2(t.elapsed() < 15000, qPrintable(QStringLiteral("%1 ms").arg(t.elapsed())));
    qInfo("1e6 ids: %lld ms", qint64(t.elapsed()));
}

QTEST_APPLESS_MAIN(TestScheduler)
#include "tst_scheduler.moc"
