"""Golden numbers for the gradient aggregators, computed from the definitions in
FORMULAS.md b.5 (not from any library's code). Prints the Rust table included by
algorithms/src/aggregate.rs's tests: python3 scripts/golden_aggregators.py >
algorithms/src/aggregate_golden.rs

The simplex problems are solved exactly: the min-norm point by enumerating the faces of the
simplex (an equality-constrained QP on each face, keep the feasible optimum), CAGrad's
convex problem by a dense grid refined around its minimum, then exact KKT polishing on the
optimal face.
"""
import itertools
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


def cagrad(G, c, rescale):
    T = len(G)
    A = G @ G.T
    phi = c * np.sqrt(A.mean()) + 1e-8
    b = A.mean(axis=1)
    F = lambda w: w @ b + phi * np.sqrt(w @ A @ w + 1e-8)
    # Coarse grid, then repeated local refinement on the simplex.
    w = min(simplex_grid(T, 200), key=F)
    radius = 1.0 / 200
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


def upgrad(G):
    T = len(G)
    M = G @ G.T
    tr = np.trace(M)
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


def main():
    orders = [[1, 2, 0], [2, 0, 1], [0, 1, 2]]
    print("// Generated by scripts/golden_aggregators.py from the definitions; do not edit.")
    simple = [("golden_imtl_g", imtl_g), ("golden_aligned_mtl", aligned_mtl), ("golden_upgrad", upgrad),
              ("golden_nash_mtl_clipped", lambda G: nash(G, 1.0)), ("golden_nash_mtl", lambda G: nash(G, 100.0)),
              ("golden_gradvac_whole", lambda G: gradvac_two_steps(G, [(0, 5)])),
              ("golden_gradvac_groups", lambda G: gradvac_two_steps(G, [(0, 2), (2, 5)]))]
    for fn, f in simple:
        print(f"fn {fn}(name: &str) -> Vec<f64> {{")
        print("    match name {")
        for name, G in [("conflicting", CONFLICTING), ("aligned", ALIGNED)]:
            print(f'        "{name}" => {rust_vec(f(G))},')
        print('        _ => unreachable!(),')
        print("    }")
        print("}")
    for fn, body in [("golden_mgda", "mgda"), ("golden_pcgrad", "pcgrad"), ("golden_cagrad", "cagrad")]:
        if body == "mgda":
            print(f"fn {fn}(name: &str) -> Vec<(MgdaNormalizer, Vec<f64>)> {{")
        elif body == "pcgrad":
            print(f"fn {fn}(name: &str) -> Vec<f64> {{")
        else:
            print(f"fn {fn}(name: &str) -> Vec<(u8, Vec<f64>)> {{")
        print("    match name {")
        for name, G in [("conflicting", CONFLICTING), ("aligned", ALIGNED)]:
            if body == "mgda":
                items = ", ".join(f"(MgdaNormalizer::{n}, {rust_vec(mgda(G, LOSSES, n))})"
                                  for n in ["None", "L2", "Loss", "LossPlus"])
                print(f'        "{name}" => vec![{items}],')
            elif body == "pcgrad":
                print(f'        "{name}" => {rust_vec(pcgrad(G, orders))},')
            else:
                items = ", ".join(f"({r}, {rust_vec(cagrad(G, 0.5, r))})" for r in [0, 1, 2])
                print(f'        "{name}" => vec![{items}],')
        print('        _ => unreachable!(),')
        print("    }")
        print("}")


if __name__ == "__main__":
    main()
