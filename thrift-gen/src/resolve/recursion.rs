//! Which fields hold their own struct by value, directly or through other
//! structs: those need a `Box` in Rust. Containers already put their
//! elements on the heap, so only by-value edges count (a field of struct
//! or typedef-of-struct type, optional or not). Computed with Kosaraju's
//! algorithm, iteratively, so a long chain of structs cannot overflow the
//! stack.

use std::collections::HashMap;

use crate::model::{DefId, Program, Type};

fn by_value_target<'a>(programs: &'a [Program], mut ty: &'a Type) -> Option<DefId> {
    // Bounded: typedef chains are acyclic once the resolver accepted the input.
    for _ in 0..=programs.iter().map(|p| p.typedefs.len()).sum::<usize>() {
        match ty {
            Type::Typedef(id) => ty = &programs[id.program].typedefs[id.index].target,
            Type::Struct(id) => return Some(*id),
            _ => return None,
        }
    }
    None
}

pub(super) fn mark_recursive_fields(programs: &mut [Program]) {
    let nodes: Vec<DefId> = programs
        .iter()
        .enumerate()
        .flat_map(|(p, prog)| (0..prog.structs.len()).map(move |i| DefId { program: p, index: i }))
        .collect();
    let index: HashMap<DefId, usize> = nodes.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut reverse: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, d) in nodes.iter().enumerate() {
        for f in &programs[d.program].structs[d.index].fields {
            if let Some(t) = by_value_target(programs, &f.ty).and_then(|t| index.get(&t)) {
                edges[i].push(*t);
                reverse[*t].push(i);
            }
        }
    }
    // First pass: post-order on the graph.
    let mut visited = vec![false; nodes.len()];
    let mut order = Vec::with_capacity(nodes.len());
    for start in 0..nodes.len() {
        if visited[start] {
            continue;
        }
        visited[start] = true;
        let mut stack = vec![(start, 0usize)];
        while let Some((n, next)) = stack.last_mut() {
            if let Some(&m) = edges[*n].get(*next) {
                *next += 1;
                if !visited[m] {
                    visited[m] = true;
                    stack.push((m, 0));
                }
            } else {
                order.push(*n);
                stack.pop();
            }
        }
    }
    // Second pass: components on the reversed graph, in reverse post-order.
    let mut component = vec![usize::MAX; nodes.len()];
    let mut count = 0;
    for &start in order.iter().rev() {
        if component[start] != usize::MAX {
            continue;
        }
        component[start] = count;
        let mut stack = vec![start];
        while let Some(n) = stack.pop() {
            for &m in &reverse[n] {
                if component[m] == usize::MAX {
                    component[m] = count;
                    stack.push(m);
                }
            }
        }
        count += 1;
    }
    for (i, d) in nodes.iter().enumerate() {
        let targets: Vec<Option<usize>> = programs[d.program].structs[d.index]
            .fields
            .iter()
            .map(|f| by_value_target(programs, &f.ty).and_then(|t| index.get(&t).copied()))
            .collect();
        for (f, t) in programs[d.program].structs[d.index].fields.iter_mut().zip(targets) {
            f.recursive = t.is_some_and(|t| component[t] == component[i]);
        }
    }
}
