#include "scheduler.h"

namespace sss::core {

void PriorityScheduler::link(Node *n)
{
    // Usually the top (often the only) level: no search.
    auto lit = !levels_.empty() && levels_.begin()->first == n->priority ? levels_.begin()
                                                                         : levels_.find(n->priority);
    if (lit == levels_.end()) {
        // An empty level may only be kept while it is the only one (see unlink()).
        if (levels_.size() == 1 && !levels_.begin()->second.head)
            spareLevel_.erase(levels_, levels_.begin());
        lit = spareLevel_.insert(levels_, n->priority, Level {});
    }
    n->level = lit;
    Level &l = lit->second;
    n->prev = l.tail;
    n->next = nullptr;
    if (l.tail)
        l.tail->next = n;
    else
        l.head = n;
    l.tail = n;
}

void PriorityScheduler::unlink(Node *n)
{
    const auto lit = n->level;
    Q_ASSERT(lit != levels_.end() && lit->first == n->priority);
    Level &l = lit->second;
    if (n->prev)
        n->prev->next = n->next;
    else
        l.head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l.tail = n->prev;
    n->prev = n->next = nullptr;
    // The only level stays, empty, for the next activation: a request/response stream is
    // activated and retired once each, which would otherwise erase and re-insert the level.
    if (!l.head && levels_.size() > 1)
        spareLevel_.erase(levels_, lit);
}

void PriorityScheduler::setActive(uint64_t id, int priority)
{
    Node *n = last_ && last_->id == id ? last_ : nullptr;
    if (!n) {
        auto it = nodes_.find(id);
        if (it == nodes_.end()) {
            it = spareNode_.insert(nodes_, id, Node {id, priority});
            last_ = &it->second;
            link(last_);
            return;
        }
        n = last_ = &it->second;
    }
    if (n->priority == priority)
        return;
    unlink(n);
    n->priority = priority;
    link(n);
}

void PriorityScheduler::remove(uint64_t id)
{
    auto it = nodes_.find(id);
    if (it == nodes_.end())
        return;
    if (last_ == &it->second)
        last_ = nullptr;
    unlink(&it->second);
    spareNode_.erase(nodes_, it);
}

std::optional<int> PriorityScheduler::priorityOf(uint64_t id) const
{
    auto it = nodes_.find(id);
    if (it == nodes_.end())
        return std::nullopt;
    return it->second.priority;
}

std::optional<uint64_t> PriorityScheduler::front() const
{
    if (levels_.empty() || !levels_.begin()->second.head)
        return std::nullopt;
    return levels_.begin()->second.head->id;
}

void PriorityScheduler::rotate(uint64_t id)
{
    // Alone at the front (one bulk stream): nothing to move, no lookups.
    if (!levels_.empty()) {
        const Level &top = levels_.begin()->second;
        if (top.head && top.head == top.tail && top.head->id == id)
            return;
    }
    auto it = nodes_.find(id);
    if (it == nodes_.end())
        return;
    Node *n = &it->second;
    Level &l = n->level->second;
    if (l.tail == n)
        return;
    // Unlink within the level (it stays non-empty) and append.
    if (n->prev)
        n->prev->next = n->next;
    else
        l.head = n->next;
    n->next->prev = n->prev;
    n->prev = l.tail;
    n->next = nullptr;
    l.tail->next = n;
    l.tail = n;
}

std::optional<int> PriorityScheduler::highestPriority() const
{
    if (levels_.empty() || !levels_.begin()->second.head)
        return std::nullopt;
    return levels_.begin()->first;
}

void PriorityScheduler::clear()
{
    nodes_.clear();
    levels_.clear();
    last_ = nullptr;
}

} // namespace sss::core
