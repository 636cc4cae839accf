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

void PriorityScheduler::setActive(Node &n, int priority)
{
    if (!n.active) {
        n.active = true;
        n.priority = priority;
        ++size_;
        link(&n);
        return;
    }
    if (n.priority == priority)
        return;
    unlink(&n);
    n.priority = priority;
    link(&n);
}

void PriorityScheduler::remove(Node &n)
{
    if (!n.active)
        return;
    unlink(&n);
    n.active = false;
    --size_;
}

PriorityScheduler::Node *PriorityScheduler::front() const
{
    return levels_.empty() ? nullptr : levels_.begin()->second.head;
}

void PriorityScheduler::rotate(Node &n)
{
    if (!n.active)
        return;
    Level &l = n.level->second;
    if (l.tail == &n)
        return; // alone or last already (one bulk stream): nothing to move
    // Unlink within the level (it stays non-empty) and append.
    if (n.prev)
        n.prev->next = n.next;
    else
        l.head = n.next;
    n.next->prev = n.prev;
    n.prev = l.tail;
    n.next = nullptr;
    l.tail->next = &n;
    l.tail = &n;
}

std::optional<int> PriorityScheduler::highestPriority() const
{
    if (levels_.empty() || !levels_.begin()->second.head)
        return std::nullopt;
    return levels_.begin()->first;
}

void PriorityScheduler::clear()
{
    for (auto &[priority, l] : levels_) {
        for (Node *n = l.head; n;) {
            Node *next = n->next;
            n->active = false;
            n->prev = n->next = nullptr;
            n = next;
        }
    }
    levels_.clear();
    size_ = 0;
}

} // namespace sss::core
