// Strict-priority, round-robin-within-level scheduler of active senders (streams, datagram queues).
#pragma once

#include "common/sparenode.h"

#include <QtGlobal>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>

namespace sss::core {

// HIGHER integer priority is served FIRST; ids of equal priority take turns (round robin).
// Every operation is O(1) plus one hash lookup, except changing level membership (O(log levels)).
class PriorityScheduler
{
public:
    // Inserts id at the back of its level, or moves it to the back of a new level. Re-activating
    // with the same priority keeps its place (no queue jumping, no lost turn).
    void setActive(uint64_t id, int priority);
    void remove(uint64_t id);
    bool isActive(uint64_t id) const { return nodes_.count(id) != 0; }
    // Whether setActive(id, priority) would change nothing. The last activated id is answered
    // without a lookup: a stream is typically activated by each of its writes and its FIN.
    bool isActiveAt(uint64_t id, int priority) const
    {
        if (last_ && last_->id == id)
            return last_->priority == priority;
        const auto it = nodes_.find(id);
        return it != nodes_.end() && it->second.priority == priority;
    }
    bool isEmpty() const { return nodes_.empty(); }
    qsizetype size() const { return qsizetype(nodes_.size()); }
    std::optional<int> priorityOf(uint64_t id) const;

    std::optional<uint64_t> front() const; // who should send next
    void rotate(uint64_t id); // id got its quantum: move to the back of its level
    std::optional<int> highestPriority() const;
    void clear();

private:
    struct Node;
    struct Level {
        Node *head = nullptr;
        Node *tail = nullptr;
    };
    using Levels = std::map<int, Level, std::greater<int>>;
    struct Node {
        uint64_t id;
        int priority;
        Node *prev = nullptr;
        Node *next = nullptr;
        Levels::iterator level {}; // while linked (a level lives as long as it has nodes)
    };

    void link(Node *n); // at the back of its level (created if needed)
    void unlink(Node *n); // drops the level if it becomes empty, unless it is the only one

    std::unordered_map<uint64_t, Node> nodes_; // node addresses are stable across rehashing
    Levels levels_; // no empty level, except an only one
    // One freed node of each container is kept for the next insertion: a request/response stream
    // is activated and retired once each, which would otherwise cost two malloc/free pairs.
    SpareNode<std::unordered_map<uint64_t, Node>> spareNode_;
    SpareNode<Levels> spareLevel_;
    Node *last_ = nullptr; // the node setActive() last touched, while it is active
};

} // namespace sss::core
