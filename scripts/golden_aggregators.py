"""Golden numbers for the gradient aggregators, computed from the definitions in
docs/FORMULAS.md#gradient-level-weightings (not from any library's code). Writes the Rust tables that
algorithms/src/weighting/tests/testing.rs includes (the methods' tests read them there):

    python3 scripts/golden_aggregators.py      (from the repository root; needs numpy, mpmath)

algorithms/src/weighting/tests/golden.rs: two easy 3x5 Jacobians, in float64 (numpy). The simplex
problems are solved exactly where a finite method exists: the min-norm point by enumerating
the faces of the simplex (an equality-constrained QP on each face, keep the feasible
optimum), UPGrad's box QPs by enumerating active sets (KKT). CAGrad's convex problem: a
grid on the simplex (step 1/200 for T <= 3, 1/12 above) and a local search (pairwise moves
of shrinking size) find its optimum to about 1e-8 (not exactly: the table printed from that
point alone moved by 1e-8 between numpy versions); from there Newton's method on the KKT
system of the optimal face gives the exact optimum, in 50-digit arithmetic (as below).

algorithms/src/weighting/tests/golden_hard.rs: three hard Jacobians (task gradient norms 51x
apart; two nearly opposite tasks; five random tasks), in 50-digit arithmetic (mpmath), each
method exactly from its definition: faces and active sets enumerated as above, CAGrad's
optimum by Newton's method on the KKT system of a face of the simplex (started from the
grid-and-local-search point; the face accepted when its point is feasible and the KKT
conditions hold off the face), Nash-MTL by Newton's method, Aligned-MTL by a symmetric
eigen-decomposition. The entries of every Jacobian are dyadic rationals, exact in f32.
"""
import itertools
import os
import sys

import mpmath as mp
import numpy as np

CONFLICTING = np.array([[1.0, -2.0, 0.5, 0.0, 3.0],
                        [-1.5, 1.0, 0.0, 2.0, -1.0],
                        [0.5, 0.5, -2.0, 1.0, 0.0]])
ALIGNED = np.array([[1.0, 0.5, 0.2, 0.0, 0.3],
                    [0.8, 0.7, 0.0, 0.1, 0.2],
                    [1.2, 0.4, 0.3, 0.2, 0.1]])
LOSSES = np.array([0.5, 2.0, 1.5])


def min_norm_point(M):
    """argmin over the simplex of a^T M a, by enumerating faces."""
    T = M.shape[0]
    best, best_val = None, np.inf
    for size in range(1, T + 1):
        for face in itertools.combinations(range(T), size):
            idx = list(face)
            # KKT on the face: M_ff a_f = mu 1, 1^T a_f = 1.
            K = np.zeros((size + 1, size + 1))
            K[:size, :size] = 2 * M[np.ix_(idx, idx)]
            K[:size, size] = -1
            K[size, :size] = 1
            rhs = np.zeros(size + 1)
            rhs[size] = 1
            try:
                sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
            except np.linalg.LinAlgError:
                continue
            a = np.zeros(T)
            a[idx] = sol[:size]
            if (a < -1e-12).any() or abs(a.sum() - 1) > 1e-9:
                continue
            val = a @ M @ a
            if val < best_val - 1e-15:
                best, best_val = a, val
    return best


def mgda(G, losses, normalizer):
    norms = np.linalg.norm(G, axis=1)
    n = {"None": np.ones(len(G)), "L2": norms, "Loss": losses, "LossPlus": losses * norms}[normalizer]
    Gh = G / n[:, None]
    alpha = min_norm_point(Gh @ Gh.T)
    return alpha @ Gh


def pcgrad(G, orders):
    d = np.zeros(G.shape[1])
    for i in range(len(G)):
        g = G[i].copy()
        for j in orders[i]:
            if j == i:
                continue
            dot = g @ G[j]
            if dot < 0:
                g = g - dot / (G[j] @ G[j]) * G[j]
        d += g
    return d


def simplex_grid(T, steps):
    for c in itertools.product(range(steps + 1), repeat=T - 1):
        if sum(c) <= steps:
            yield np.array(list(c) + [steps - sum(c)]) / steps


def cagrad_weights(G, c):
    """w* of CAGrad's simplex problem: a dense grid, then a local search (float64)."""
    T = len(G)
    A = G @ G.T
    phi = c * np.sqrt(A.mean()) + 1e-8
    b = A.mean(axis=1)
    F = lambda w: w @ b + phi * np.sqrt(w @ A @ w + 1e-8)
    # Coarse grid, then repeated local refinement on the simplex.
    steps = 200 if T <= 3 else 12
    w = min(simplex_grid(T, steps), key=F)
    radius = 1.0 / steps
    for _ in range(60):
        cands = [w]
        for i in range(T):
            for j in range(T):
                if i != j:
                    for s in (radius, radius / 3):
                        v = w.copy()
                        move = min(s, v[j])
                        v[i] += move
                        v[j] -= move
                        cands.append(v)
        w_new = min(cands, key=F)
        if F(w_new) >= F(w) - 1e-18:
            radius /= 2
        w = w_new
    return w


def cagrad(G, c, rescale):
    T = len(G)
    A = G @ G.T
    phi = c * np.sqrt(A.mean()) + 1e-8
    w = cagrad_weights(G, c)
    gw = w @ G
    lam = phi / (np.linalg.norm(gw) + 1e-8)
    d = G.mean(axis=0) + lam * gw
    return d / {0: 1.0, 1: 1 + c * c, 2: 1 + c}[rescale]


def imtl_g(G):
    U = G / np.linalg.norm(G, axis=1)[:, None]
    D = G[0] - G[1:]
    Ud = U[0] - U[1:]
    rest = G[0] @ Ud.T @ np.linalg.inv(D @ Ud.T)
    alpha = np.concatenate([[1 - rest.sum()], rest])
    return alpha @ G


def aligned_mtl(G):
    M = G @ G.T
    lam, V = np.linalg.eigh(M)
    tol = lam.max() * len(M) * np.finfo(np.float32).eps
    keep = lam > tol
    lam, V = lam[keep], V[:, keep]
    B = np.sqrt(lam.min()) * (V / np.sqrt(lam)) @ V.T
    return B.sum(axis=0) @ G


def box_qp(Q, lower):
    """argmin v^T Q v s.t. v >= lower, by enumerating active sets (KKT)."""
    T = len(lower)
    for size in range(T + 1):
        for active in itertools.combinations(range(T), size):
            A = list(active)
            F = [i for i in range(T) if i not in A]
            v = np.array(lower, dtype=float)
            if F:
                v[F] = np.linalg.solve(Q[np.ix_(F, F)], -Q[np.ix_(F, A)] @ v[A])
            if (v[F] < lower[F] - 1e-12).any():
                continue
            if ((2 * Q @ v)[A] < -1e-12).any():
                continue
            return v
    raise RuntimeError("no KKT point")


def upgrad(G, torchjd=False):
    """Exact: Q = GG^T; torchjd: its regularised Gramian."""
    T = len(G)
    M = G @ G.T
    tr = np.trace(M)
    Q = M
    if torchjd:
        Q = (np.zeros_like(M) if tr < 1e-4 else M / tr) + 1e-4 * np.eye(T)
    w = sum(box_qp(Q, np.eye(T)[i] / T) for i in range(T))
    return w @ G


def nash(G, max_norm):
    M = G @ G.T
    M = M / np.linalg.norm(M)
    a = np.ones(len(M))
    for _ in range(200):
        g = M @ a - 1 / a
        H = M + np.diag(1 / a ** 2)
        step = np.linalg.solve(H, -g)
        s = 1.0
        phi = lambda x: 0.5 * x @ M @ x - np.log(x).sum()
        while (a + s * step <= 0).any() or phi(a + s * step) > phi(a):
            s /= 2
        a = a + s * step
    assert np.linalg.norm(M @ a - 1 / a) < 1e-10
    d = a @ G
    n = np.linalg.norm(d)
    return d * (max_norm / n if n > max_norm else 1.0)


def gradvac(G, orders, groups, beta, targets):
    T = len(G)
    d = np.zeros(G.shape[1])
    for i in range(T):
        g = G[i].copy()
        for j in orders[i]:
            if j == i:
                continue
            for k, (a, b) in enumerate(groups):
                gi, gj = g[a:b], G[j][a:b]
                rho = gi @ gj / (np.linalg.norm(gi) * np.linalg.norm(gj))
                phi = targets[i, j, k]
                if rho < phi:
                    w = np.linalg.norm(gi) * (phi * np.sqrt(1 - rho ** 2) - rho * np.sqrt(1 - phi ** 2)) / (
                        np.linalg.norm(gj) * np.sqrt(1 - phi ** 2))
                    g[a:b] = g[a:b] + w * gj
                targets[i, j, k] = (1 - beta) * phi + beta * rho
        d += g
    return d


def gradvac_two_steps(G, groups):
    orders = [[1, 2, 0], [2, 0, 1], [0, 1, 2]]
    targets = np.zeros((3, 3, len(groups)))
    return np.concatenate([gradvac(G, orders, groups, 0.5, targets), gradvac(G, orders, groups, 0.5, targets)])


def rust_vec(v):
    return "vec![" + ", ".join(f"{x:.10}" for x in v) + "]"


def easy_tables(print):
    orders = [[1, 2, 0], [2, 0, 1], [0, 1, 2]]
    print("// Generated by scripts/golden_aggregators.py from the definitions; do not edit.")
    simple = [("golden_imtl_g", imtl_g), ("golden_aligned_mtl", aligned_mtl), ("golden_upgrad", upgrad),
              ("golden_upgrad_torchjd", lambda G: upgrad(G, torchjd=True)),
              ("golden_nash_mtl_clipped", lambda G: nash(G, 1.0)), ("golden_nash_mtl", lambda G: nash(G, 100.0)),
              ("golden_gradvac_whole", lambda G: gradvac_two_steps(G, [(0, 5)])),
              ("golden_gradvac_groups", lambda G: gradvac_two_steps(G, [(0, 2), (2, 5)]))]
    for fn, f in simple:
        print(f"pub fn {fn}(name: &str) -> Vec<f64> {{")
        print("    match name {")
        for name, G in [("conflicting", CONFLICTING), ("aligned", ALIGNED)]:
            print(f'        "{name}" => {rust_vec(f(G))},')
        print('        _ => unreachable!(),')
        print("    }")
        print("}")
    for fn, body in [("golden_mgda", "mgda"), ("golden_pcgrad", "pcgrad"), ("golden_cagrad", "cagrad")]:
        if body == "mgda":
            print(f"pub fn {fn}(name: &str) -> Vec<(MgdaNormalizer, Vec<f64>)> {{")
        elif body == "pcgrad":
            print(f"pub fn {fn}(name: &str) -> Vec<f64> {{")
        else:
            print(f"pub fn {fn}(name: &str) -> Vec<(u8, Vec<f64>)> {{")
        print("    match name {")
        for name, G in [("conflicting", CONFLICTING), ("aligned", ALIGNED)]:
            if body == "mgda":
                items = ", ".join(f"(MgdaNormalizer::{n}, {rust_vec(mgda(G, LOSSES, n))})"
                                  for n in ["None", "L2", "Loss", "LossPlus"])
                print(f'        "{name}" => vec![{items}],')
            elif body == "pcgrad":
                print(f'        "{name}" => {rust_vec(pcgrad(G, orders))},')
            else:
                items = ", ".join(f"({r}, {rust_vec([float(x) for x in mp_cagrad(mpm(G.tolist()), 0.5, r)])})"
                                  for r in [0, 1, 2])
                print(f'        "{name}" => vec![{items}],')
        print('        _ => unreachable!(),')
        print("    }")
        print("}")


# ---------------------------------------------------------------------------------------
# Hard cases, in 50-digit arithmetic.

mp.mp.dps = 50
F32_EPS = mp.mpf(2) ** -23

# Task gradient norms 51x apart (CONFLICTING with its first row times 32).
RATIO = [[32.0, -64.0, 16.0, 0.0, 96.0],
         [-1.5, 1.0, 0.0, 2.0, -1.0],
         [0.5, 0.5, -2.0, 1.0, 0.0]]
# Tasks 0 and 1 nearly opposite (cosine -0.99999), and a third task.
OPPOSITE = [[1.0, -0.5, 0.25, 2.0, -1.0],
            [-1.0 + 2 ** -8, 0.5, -0.25 - 2 ** -8, -2.0 + 2 ** -9, 1.0],
            [0.5, 1.0, -0.25, 0.0, 0.75]]
# Five tasks, eight parameters: N(0, 1) entries rounded to 1/64 (numpy seed 20261130).
RANDOM5 = [[-0.328125, -1.046875, -1.796875, 0.0625, -0.59375, -0.234375, 0.046875, 0.671875],
           [-0.578125, 0.53125, -0.421875, -0.828125, 2.0625, -0.09375, -0.78125, 1.0],
           [-1.546875, -0.90625, 0.484375, -0.328125, 0.1875, 2.359375, 1.25, -2.015625],
           [-0.65625, -0.671875, -0.15625, -0.734375, -1.640625, 0.765625, 0.46875, 1.15625],
           [-2.890625, 0.203125, -0.546875, 0.25, -0.4375, -1.859375, 1.40625, 0.65625]]
HARD = [("ratio", RATIO, [0.5, 2.0, 1.5]),
        ("opposite", OPPOSITE, [0.5, 2.0, 1.5]),
        ("random5", RANDOM5, [0.75, 1.5, 0.25, 2.0, 1.0])]


def orders_of(T):
    """PCGrad's task orders in the tests: task i visits i+1, i+2, ... (mod T)."""
    return [[(i + 1 + k) % T for k in range(T)] for i in range(T)]


def mpm(rows):
    return mp.matrix([[mp.mpf(x) for x in r] for r in rows])


def rows(G):
    return [[G[i, j] for j in range(G.cols)] for i in range(G.rows)]


def gram(G):
    return G * G.T


def combo(w, G):
    """sum_i w_i g_i."""
    return [mp.fsum(w[i] * G[i, j] for i in range(G.rows)) for j in range(G.cols)]


def norm(v):
    return mp.sqrt(mp.fsum(x * x for x in v))


def mp_min_norm_point(M):
    T = M.rows
    best, best_val = None, None
    for size in range(1, T + 1):
        for face in itertools.combinations(range(T), size):
            K = mp.zeros(size + 1, size + 1)
            for a, i in enumerate(face):
                for b, j in enumerate(face):
                    K[a, b] = 2 * M[i, j]
                K[a, size] = -1
                K[size, a] = 1
            rhs = mp.zeros(size + 1, 1)
            rhs[size] = 1
            try:
                sol = mp.lu_solve(K, rhs)
            except ZeroDivisionError:
                continue
            a = [mp.mpf(0)] * T
            for k, i in enumerate(face):
                a[i] = sol[k]
            if any(x < 0 for x in a):
                continue
            val = mp.fsum(a[i] * M[i, j] * a[j] for i in range(T) for j in range(T))
            if best_val is None or val < best_val:
                best, best_val = a, val
    return best


def mp_mgda(G, losses, normalizer):
    T = G.rows
    norms = [norm(rows(G)[i]) for i in range(T)]
    n = {"None": [mp.mpf(1)] * T, "L2": norms, "Loss": losses,
         "LossPlus": [l * m for l, m in zip(losses, norms)]}[normalizer]
    Gh = mpm([[G[i, j] / n[i] for j in range(G.cols)] for i in range(T)])
    alpha = mp_min_norm_point(gram(Gh))
    return combo(alpha, Gh)


def mp_pcgrad(G):
    T = G.rows
    M = gram(G)
    d = [mp.mpf(0)] * G.cols
    for i, order in enumerate(orders_of(T)):
        c = [mp.mpf(0)] * T
        c[i] = mp.mpf(1)
        for j in order:
            if j == i:
                continue
            along = mp.fsum(c[k] * M[k, j] for k in range(T))
            if along < 0:
                c[j] -= along / M[j, j]
        d = [x + y for x, y in zip(d, combo(c, G))]
    return d


def mp_cagrad(G, c, rescale):
    T = G.rows
    A = gram(G)
    c = mp.mpf(c)
    phi = c * mp.sqrt(mp.fsum(A) / T ** 2) + mp.mpf(1e-8)
    b = [mp.fsum(A[i, j] for j in range(T)) / T for i in range(T)]

    def parts(w):
        aw = [mp.fsum(A[i, j] * w[j] for j in range(T)) for i in range(T)]
        q = mp.sqrt(mp.fsum(x * y for x, y in zip(w, aw)) + mp.mpf(1e-8))
        grad = [b[i] + phi * aw[i] / q for i in range(T)]
        return aw, q, grad

    start = cagrad_weights(np.array([[float(x) for x in r] for r in rows(G)]), float(c))
    support = tuple(i for i in range(T) if start[i] > 1e-6)
    faces = [support] + [f for k in range(1, T + 1) for f in itertools.combinations(range(T), k)
                         if f != support]
    for face in faces:
        k = len(face)
        w = [mp.mpf(0)] * T
        total = sum(start[i] for i in face)
        for i in face:
            w[i] = mp.mpf(start[i] / total) if total > 0 else mp.mpf(1) / k
        mu = mp.fsum(parts(w)[2][i] for i in face) / k
        ok = False
        for _ in range(200):
            aw, q, grad = parts(w)
            res = [grad[i] - mu for i in face] + [mp.fsum(w[i] for i in face) - 1]
            if max(abs(r) for r in res) < mp.mpf(10) ** -45:
                ok = True
                break
            K = mp.zeros(k + 1, k + 1)
            for a, i in enumerate(face):
                for bb, j in enumerate(face):
                    K[a, bb] = phi * (A[i, j] / q - aw[i] * aw[j] / q ** 3)
                K[a, k] = -1
                K[k, a] = 1
            try:
                step = mp.lu_solve(K, mp.matrix([-r for r in res]))
            except ZeroDivisionError:
                break
            for a, i in enumerate(face):
                w[i] += step[a]
            mu += step[k]
        if not ok or any(w[i] <= 0 for i in face):
            continue
        grad = parts(w)[2]
        if any(grad[j] < mu - mp.mpf(10) ** -40 for j in range(T) if j not in face):
            continue
        gw = combo(w, G)
        lam = phi / (norm(gw) + mp.mpf(1e-8))
        mean = [mp.fsum(G[i, j] for i in range(T)) / T for j in range(G.cols)]
        div = {0: mp.mpf(1), 1: 1 + c * c, 2: 1 + c}[rescale]
        return [(m + lam * x) / div for m, x in zip(mean, gw)]
    raise RuntimeError("CAGrad: no face satisfies the KKT conditions")


def mp_imtl_g(G):
    T = G.rows
    g = rows(G)
    u = [[x / norm(r) for x in r] for r in g]
    D = mpm([[g[0][j] - g[t][j] for j in range(G.cols)] for t in range(1, T)])
    U = mpm([[u[0][j] - u[t][j] for j in range(G.cols)] for t in range(1, T)])
    g1U = mpm([g[0]]) * U.T
    # rest (row) = g1 U^T (D U^T)^-1  <=>  (D U^T)^T rest^T = (g1 U^T)^T.
    rest = mp.lu_solve((D * U.T).T, g1U.T)
    alpha = [1 - mp.fsum(rest)] + [rest[k] for k in range(T - 1)]
    return combo(alpha, G)


def mp_aligned_mtl(G):
    T = G.rows
    E, Q = mp.eigsy(gram(G))
    lam_max = max(E)
    keep = [k for k in range(T) if E[k] > lam_max * T * F32_EPS]
    lam_min = min(E[k] for k in keep)
    w = [mp.sqrt(lam_min) * mp.fsum(mp.fsum(Q[i, k] for i in range(T)) * Q[j, k] / mp.sqrt(E[k])
                                    for k in keep) for j in range(T)]
    return combo(w, G)


def mp_box_qp(Q, lower):
    """argmin v^T Q v s.t. v >= lower, by enumerating active sets (KKT), exactly."""
    T = len(lower)
    for size in range(T + 1):
        for active in itertools.combinations(range(T), size):
            free = [i for i in range(T) if i not in active]
            v = [mp.mpf(x) for x in lower]
            if free:
                K = mpm([[Q[i, j] for j in free] for i in free])
                rhs = mp.matrix([-mp.fsum(Q[i, j] * v[j] for j in active) for i in free])
                try:
                    sol = mp.lu_solve(K, rhs)
                except ZeroDivisionError:
                    continue
                for k, i in enumerate(free):
                    v[i] = sol[k]
            if any(v[i] < lower[i] for i in free):
                continue
            grad = [mp.fsum(Q[i, j] * v[j] for j in range(T)) for i in range(T)]
            if any(grad[i] < -mp.mpf(10) ** -40 for i in active):
                continue
            return v
    raise RuntimeError("no KKT point")


def mp_upgrad(G, torchjd):
    T = G.rows
    M = gram(G)
    Q = M
    if torchjd:
        tr = mp.fsum(M[i, i] for i in range(T))
        Q = (M / tr if tr >= mp.mpf(1e-4) else mp.zeros(T, T)) + mp.mpf(1e-4) * mp.eye(T)
    w = [mp.mpf(0)] * T
    for i in range(T):
        lower = [mp.mpf(1) / T if j == i else mp.mpf(0) for j in range(T)]
        w = [a + b for a, b in zip(w, mp_box_qp(Q, lower))]
    return combo(w, G)


def mp_nash(G, max_norm):
    T = G.rows
    M = gram(G)
    M = M / mp.sqrt(mp.fsum(x * x for x in M))
    a = [mp.mpf(1)] * T

    def phi(x):
        return mp.fsum(x[i] * M[i, j] * x[j] for i in range(T) for j in range(T)) / 2 - mp.fsum(
            mp.log(v) for v in x)

    for _ in range(200):
        g = [mp.fsum(M[i, j] * a[j] for j in range(T)) - 1 / a[i] for i in range(T)]
        if max(abs(x) for x in g) < mp.mpf(10) ** -45:
            break
        H = M + mp.diag([1 / x ** 2 for x in a])
        step = mp.lu_solve(H, mp.matrix([-x for x in g]))
        s = mp.mpf(1)
        while True:
            cand = [x + s * step[i] for i, x in enumerate(a)]
            if all(x > 0 for x in cand) and phi(cand) <= phi(a):
                break
            s /= 2
        a = cand
    d = combo(a, G)
    n = norm(d)
    return [x * (max_norm / n if n > max_norm else 1) for x in d]


def mp_db_mtl_first_step(G, losses, beta):
    """The first step from an EMA at 0: g^_i = (1 - beta) g_i / (L_i + 1e-8);
    alpha_i = max_j |g^_j| / (|g^_i| + 1e-8); d = sum alpha_i g^_i."""
    beta = mp.mpf(beta)
    smooth = [[(1 - beta) * x / (l + mp.mpf(1e-8)) for x in r] for r, l in zip(rows(G), losses)]
    norms = [norm(r) for r in smooth]
    alpha = [max(norms) / (n + mp.mpf(1e-8)) for n in norms]
    return combo(alpha, mpm(smooth))


def rust_mp(v):
    return "vec![" + ", ".join(mp.nstr(x, 17, min_fixed=-4, max_fixed=6) for x in v) + "]"


def hard_tables(print):
    print("// Generated by scripts/golden_aggregators.py from the definitions, in 50-digit")
    print("// arithmetic; do not edit.")
    print("pub fn hard_cases() -> Vec<(&'static str, Vec<Vec<f32>>, Vec<f32>)> {")
    print("    vec![")
    for name, G, losses in HARD:
        g = ", ".join("vec![" + ", ".join(repr(float(x)) for x in r) + "]" for r in G)
        print(f'        ("{name}", vec![{g}], vec!{[float(x) for x in losses]}),')
    print("    ]")
    print("}")
    cases = [(name, mpm(G), [mp.mpf(x) for x in losses]) for name, G, losses in HARD]
    for name, G, _ in cases:
        norms = [norm(r) for r in rows(G)]
        cos = gram(G)[0, 1] / (norms[0] * norms[1])
        sys.stderr.write(f"{name}: norm ratio {mp.nstr(max(norms) / min(norms), 4)}, "
                         f"cos(g0, g1) {mp.nstr(cos, 8)}\n")
    simple = [
        ("hard_upgrad", lambda G, L: mp_upgrad(G, False)),
        ("hard_upgrad_torchjd", lambda G, L: mp_upgrad(G, True)),
        ("hard_pcgrad", lambda G, L: mp_pcgrad(G)),
        ("hard_imtl_g", lambda G, L: mp_imtl_g(G)),
        ("hard_aligned_mtl", lambda G, L: mp_aligned_mtl(G)),
        ("hard_nash_mtl", lambda G, L: mp_nash(G, 100)),
        ("hard_nash_mtl_clipped", lambda G, L: mp_nash(G, 1)),
        ("hard_db_mtl_first_step", lambda G, L: mp_db_mtl_first_step(G, L, 0.9)),
    ]
    for fn, f in simple:
        print(f"pub fn {fn}(name: &str) -> Vec<f64> {{")
        print("    match name {")
        for name, G, L in cases:
            print(f'        "{name}" => {rust_mp(f(G, L))},')
        print('        _ => unreachable!(),')
        print("    }")
        print("}")
    print("pub fn hard_mgda(name: &str) -> Vec<(MgdaNormalizer, Vec<f64>)> {")
    print("    match name {")
    for name, G, L in cases:
        items = ", ".join(f"(MgdaNormalizer::{n}, {rust_mp(mp_mgda(G, L, n))})"
                          for n in ["None", "L2", "Loss", "LossPlus"])
        print(f'        "{name}" => vec![{items}],')
    print('        _ => unreachable!(),')
    print("    }")
    print("}")
    print("pub fn hard_cagrad(name: &str) -> Vec<(u8, Vec<f64>)> {")
    print("    match name {")
    for name, G, L in cases:
        items = ", ".join(f"({r}, {rust_mp(mp_cagrad(G, 0.5, r))})" for r in [0, 1, 2])
        print(f'        "{name}" => vec![{items}],')
    print('        _ => unreachable!(),')
    print("    }")
    print("}")


def write(path, tables):
    lines = []
    tables(lines.append)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    write(os.path.join(root, "algorithms/src/weighting/tests/golden.rs"), easy_tables)
    write(os.path.join(root, "algorithms/src/weighting/tests/golden_hard.rs"), hard_tables)
