// Strict-priority, round-robin-within-level scheduler of active senders (streams, datagram queues).
#pragma once

#include "common/sparenode.h"

#include <QtGlobal>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

namespace sss::core {

// HIGHER integer priority is served FIRST; nodes of equal priority take turns (round robin).
// Intrusive: the scheduled objects (a session's streams) carry their Node, so activating and
// retiring one is a relink, without a table of its own to insert into, search and erase from (a
// request/response stream is activated and retired once per request, on the critical path).
// Every operation is O(1), except changing level membership (O(log levels)). A node must be
// removed before it is destroyed or moved.
class PriorityScheduler
{
    struct Level;
    using Levels = std::map<int, Level, std::greater<int>>;

public:
    struct Node {
        int priority = 0;
        bool active = false;
        Node *prev = nullptr;
        Node *next = nullptr;
        Levels::iterator level {}; // while active (a level lives as long as it has nodes)
    };

    // Inserts n at the back of its level, or moves it to the back of a new level. Re-activating
    // with the same priority keeps its place (no queue jumping, no lost turn).
    void setActive(Node &n, int priority);
    void remove(Node &n);
    static bool isActive(const Node &n) { return n.active; }
    // Whether setActive(n, priority) would change nothing.
    static bool isActiveAt(const Node &n, int priority) { return n.active && n.priority == priority; }
    bool isEmpty() const { return size_ == 0; }
    qsizetype size() const { return size_; }

    Node *front() const; // who should send next
    void rotate(Node &n); // n got its quantum: move to the back of its level
    std::optional<int> highestPriority() const;
    void clear(); // every node becomes inactive

private:
    struct Level {
        Node *head = nullptr;
        Node *tail = nullptr;
    };

    void link(Node *n); // at the back of its level (created if needed)
    void unlink(Node *n); // drops the level if it becomes empty, unless it is the only one

    Levels levels_; // no empty level, except an only one
    qsizetype size_ = 0;
    // One freed level node is kept for the next insertion (a level emptied beside another one).
    SpareNode<Levels> spareLevel_;
};

} // namespace sss::core
