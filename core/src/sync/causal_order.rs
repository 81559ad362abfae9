//! A push's changes of one document put in causal order: each after the changes it builds
//! on. The server logs a push's changes in the order it stores them, and a device reading
//! the log a page at a time must never receive a change before one it depends on
//! (docs/protocol.md, "Pulling"), whatever order the pushing client sent them in.

use std::collections::HashMap;

use automerge::ChangeHash;

use super::incoming_change::IncomingChange;

impl IncomingChange {
    /// `changes` (of one document, each listed once) reordered so that every change comes
    /// after those of `changes` it depends on; changes already in such an order, as every
    /// well-behaved client sends them, come back as they were, at the cost of one look-up
    /// per dependency. Otherwise a depth-first order that keeps the order sent wherever
    /// dependencies allow. Dependencies on changes not among `changes` (stored already, or
    /// missing: applying the changes refuses those) are left alone.
    pub fn in_causal_order(changes: Vec<IncomingChange>) -> Vec<IncomingChange> {
        let at: HashMap<ChangeHash, usize> = changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.change.hash(), i))
            .collect();
        let pushed_before = |i: usize, c: &IncomingChange| {
            c.change
                .deps()
                .iter()
                .all(|d| at.get(d).is_none_or(|&j| j < i))
        };
        if changes.iter().enumerate().all(|(i, c)| pushed_before(i, c)) {
            return changes;
        }
        // Iterative (a reversed week offline is thousands of changes deep): each entry of
        // `stack` is a change and how many of its dependencies were looked at.
        let mut state = vec![State::Waiting; changes.len()];
        let mut order = Vec::with_capacity(changes.len());
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for root in 0..changes.len() {
            if state[root] != State::Waiting {
                continue;
            }
            state[root] = State::Open;
            stack.push((root, 0));
            while let Some((i, next)) = stack.last_mut() {
                let i = *i;
                match changes[i].change.deps().get(*next) {
                    Some(dep) => {
                        *next += 1;
                        if let Some(&j) = at.get(dep)
                            && state[j] == State::Waiting
                        {
                            state[j] = State::Open;
                            stack.push((j, 0));
                        }
                    }
                    None => {
                        state[i] = State::Placed;
                        order.push(i);
                        stack.pop();
                    }
                }
            }
        }
        let mut slots: Vec<Option<IncomingChange>> = changes.into_iter().map(Some).collect();
        order
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take))
            .collect()
    }
}

/// Where a change stands in the depth-first walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    /// On the stack: its dependencies are being placed.
    Open,
    Placed,
}

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;
    use automerge::transaction::Transactable;

    use super::*;

    /// A document's changes: `n` in a line, then two concurrent ones on the last and a
    /// merge of both.
    fn history(n: usize) -> Vec<IncomingChange> {
        let mut doc = AutoCommit::new();
        for i in 0..n {
            doc.put(automerge::ROOT, "n", i as i64).expect("put");
            doc.commit();
        }
        let mut other = doc.fork();
        doc.put(automerge::ROOT, "a", 1).expect("put");
        doc.commit();
        other.put(automerge::ROOT, "b", 2).expect("put");
        other.commit();
        doc.merge(&mut other).expect("merge");
        doc.put(automerge::ROOT, "c", 3).expect("put");
        doc.commit();
        doc.get_changes(&[])
            .into_iter()
            .map(|c| IncomingChange::parse(c.raw_bytes()).expect("a change"))
            .collect()
    }

    fn hashes(changes: &[IncomingChange]) -> Vec<String> {
        changes.iter().map(IncomingChange::hash).collect()
    }

    /// Whether each change comes after every change of the list it depends on.
    fn causal(changes: &[IncomingChange]) -> bool {
        let mut held = std::collections::HashSet::new();
        let all: std::collections::HashSet<String> = hashes(changes).into_iter().collect();
        changes.iter().all(|c| {
            let ok = c
                .deps()
                .iter()
                .all(|d| held.contains(d) || !all.contains(d));
            held.insert(c.hash());
            ok
        })
    }

    #[test]
    fn changes_in_causal_order_come_back_as_they_were() {
        let changes = history(5);
        let sent = hashes(&changes);
        assert_eq!(hashes(&IncomingChange::in_causal_order(changes)), sent);
    }

    #[test]
    fn reversed_and_shuffled_changes_come_back_each_after_those_it_builds_on() {
        let changes = history(3000);
        let count = changes.len();
        let mut reversed = changes.clone();
        reversed.reverse();
        assert!(!causal(&reversed));
        let ordered = IncomingChange::in_causal_order(reversed);
        assert_eq!(ordered.len(), count);
        assert!(causal(&ordered), "reversed, three thousand deep");

        let mut shuffled = changes;
        shuffled.rotate_left(count / 2);
        shuffled.swap(0, count - 1);
        let mut sent = hashes(&shuffled);
        let ordered = IncomingChange::in_causal_order(shuffled);
        assert!(causal(&ordered), "rotated and swapped");
        let mut got = hashes(&ordered);
        sent.sort();
        got.sort();
        assert_eq!(got, sent, "every change, once");
    }

    #[test]
    fn dependencies_outside_the_list_leave_the_order_alone() {
        let mut changes = history(4);
        // The first two stored already: the rest depend on changes not in the list.
        let rest = changes.split_off(2);
        let sent = hashes(&rest);
        assert_eq!(hashes(&IncomingChange::in_causal_order(rest)), sent);
    }
}
