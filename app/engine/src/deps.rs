//! Dependencies between named definitions (a segment whose rule uses other segments; later,
//! composite tags), and the cycle check that keeps them computable.
//!
//! A definition is computed from the definitions it names, so a cycle (`a` uses `b`, `b` uses
//! `a`, or `a` uses itself) can never be computed: it must be refused when it is saved, not
//! discovered later as a definition that silently has no members. [`find_cycle`] is the check:
//! a pure function of the graph, so the server runs it at save time and tests compare it with
//! a naive reachability oracle.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Each definition's direct dependencies, by id. An id missing from the map has none.
pub type Graph = BTreeMap<String, Vec<String>>;

/// A cycle reachable from `start`, as the ids along it with the first repeated at the end
/// (`["a", "b", "a"]`; `["a", "a"]` for a definition that names itself), or `None`.
///
/// When `start` itself lies on a cycle, the answer is a shortest cycle through `start` (what a
/// person saving `start` needs to see); otherwise it is some cycle among the definitions
/// `start` depends on (one saved before cycles were checked).
///
/// ```
/// use engine::deps::{Graph, find_cycle};
/// let mut g = Graph::new();
/// g.insert("a".into(), vec!["b".into()]);
/// g.insert("b".into(), vec!["c".into(), "a".into()]);
/// assert_eq!(find_cycle(&g, "a"), Some(vec!["a".to_string(), "b".into(), "a".into()]));
/// g.insert("b".into(), vec!["c".into()]);
/// assert_eq!(find_cycle(&g, "a"), None);
/// ```
pub fn find_cycle(graph: &Graph, start: &str) -> Option<Vec<String>> {
    shortest_cycle_through(graph, start).or_else(|| any_cycle_from(graph, start))
}

fn deps<'g>(graph: &'g Graph, id: &str) -> &'g [String] {
    graph.get(id).map_or(&[], Vec::as_slice)
}

/// Breadth-first from `start`'s dependencies back to `start`: the shortest cycle through it.
fn shortest_cycle_through(graph: &Graph, start: &str) -> Option<Vec<String>> {
    // parent[v] = the node v was first reached from (`None` for `start`'s direct dependencies).
    let mut parent: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    let mut queue: VecDeque<&str> = VecDeque::new();
    for d in deps(graph, start) {
        if d == start {
            return Some(vec![start.to_owned(), start.to_owned()]);
        }
        if !parent.contains_key(d.as_str()) {
            parent.insert(d, None);
            queue.push_back(d);
        }
    }
    while let Some(v) = queue.pop_front() {
        for d in deps(graph, v) {
            if d == start {
                let mut back = vec![v];
                let mut at = v;
                while let Some(Some(p)) = parent.get(at) {
                    back.push(p);
                    at = p;
                }
                let mut cycle = vec![start.to_owned()];
                cycle.extend(back.into_iter().rev().map(str::to_owned));
                cycle.push(start.to_owned());
                return Some(cycle);
            }
            if !parent.contains_key(d.as_str()) {
                parent.insert(d, Some(v));
                queue.push_back(d);
            }
        }
    }
    None
}

/// Depth-first from `start` (iteratively, so a long chain cannot overflow the stack): the
/// first edge back to a definition on the current path closes a cycle.
fn any_cycle_from(graph: &Graph, start: &str) -> Option<Vec<String>> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    // The current path, each with the index of its next dependency to look at.
    let mut path: Vec<(&str, usize)> = vec![(start, 0)];
    let mut on_path: BTreeSet<&str> = BTreeSet::from([start]);
    while let Some((v, next)) = path.last_mut() {
        let v: &str = v;
        match deps(graph, v).get(*next) {
            Some(d) => {
                *next += 1;
                let d = d.as_str();
                if on_path.contains(d) {
                    let from = path.iter().position(|(p, _)| *p == d).unwrap_or(0);
                    let mut cycle: Vec<String> = path[from..].iter().map(|(p, _)| (*p).to_owned()).collect();
                    cycle.push(d.to_owned());
                    return Some(cycle);
                }
                if !done.contains(d) {
                    path.push((d, 0));
                    on_path.insert(d);
                }
            }
            None => {
                on_path.remove(v);
                done.insert(v);
                path.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn graph(edges: &[(u8, u8)]) -> Graph {
        let mut g = Graph::new();
        for (a, b) in edges {
            g.entry(format!("n{a}")).or_default().push(format!("n{b}"));
        }
        g
    }

    /// The oracle: nodes reachable in one or more steps, by repeating "one more step" until
    /// nothing changes (no search order, no stack).
    fn reachable(g: &Graph, from: &str) -> BTreeSet<String> {
        let mut seen: BTreeSet<String> = deps(g, from).iter().cloned().collect();
        loop {
            let more: BTreeSet<String> = seen.iter().flat_map(|v| deps(g, v).iter().cloned()).collect();
            let before = seen.len();
            seen.extend(more);
            if seen.len() == before {
                return seen;
            }
        }
    }

    /// The length of the shortest cycle through `v` (edges), from "reachable in exactly k steps".
    fn shortest_through(g: &Graph, v: &str, nodes: usize) -> Option<usize> {
        let mut frontier: BTreeSet<String> = BTreeSet::from([v.to_owned()]);
        for k in 1..=nodes + 1 {
            frontier = frontier.iter().flat_map(|x| deps(g, x).iter().cloned()).collect();
            if frontier.contains(v) {
                return Some(k);
            }
        }
        None
    }

    #[test]
    fn self_reference_and_longer_cycles() {
        assert_eq!(find_cycle(&graph(&[(0, 0)]), "n0"), Some(vec!["n0".into(), "n0".into()]));
        let g = graph(&[(0, 1), (1, 2), (2, 3), (3, 1)]);
        assert_eq!(
            find_cycle(&g, "n0"),
            Some(vec!["n1".into(), "n2".into(), "n3".into(), "n1".into()]),
            "a cycle among the dependencies"
        );
        assert_eq!(find_cycle(&g, "n9"), None, "unknown ids have no dependencies");
        // A long chain is walked without recursion.
        let mut g = Graph::new();
        for i in 0..50_000u32 {
            g.insert(format!("c{i}"), vec![format!("c{}", i + 1)]);
        }
        assert_eq!(find_cycle(&g, "c0"), None);
        g.insert("c50000".into(), vec!["c0".into()]);
        assert_eq!(find_cycle(&g, "c0").map(|c| c.len()), Some(50_002));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn agrees_with_reachability(edges in prop::collection::vec((0u8..8, 0u8..8), 0..20), start in 0u8..8) {
            let g = graph(&edges);
            let start = format!("n{start}");
            let mut from_start = reachable(&g, &start);
            from_start.insert(start.clone());
            let cyclic: Vec<&String> = from_start.iter().filter(|v| reachable(&g, v).contains(*v)).collect();
            let found = find_cycle(&g, &start);
            prop_assert_eq!(found.is_some(), !cyclic.is_empty(), "{:?}", found);
            if let Some(cycle) = found {
                prop_assert!(cycle.len() >= 2);
                prop_assert_eq!(cycle.first(), cycle.last());
                for pair in cycle.windows(2) {
                    prop_assert!(deps(&g, &pair[0]).contains(&pair[1]), "{:?} is not an edge", pair);
                }
                let inner: BTreeSet<&String> = cycle[1..].iter().collect();
                prop_assert_eq!(inner.len(), cycle.len() - 1, "a simple cycle");
                prop_assert!(from_start.contains(&cycle[0]));
                if reachable(&g, &start).contains(&start) {
                    prop_assert_eq!(&cycle[0], &start, "a cycle through start comes first");
                    prop_assert_eq!(Some(cycle.len() - 1), shortest_through(&g, &start, 8), "and is a shortest one");
                }
            }
        }
    }
}
