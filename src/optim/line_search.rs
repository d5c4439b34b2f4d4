//! A line search for the strong Wolfe conditions (Nocedal and Wright, Numerical
//! Optimization, algorithms 3.5 and 3.6), with cubic interpolation safeguarded by bisection,
//! as PyTorch's `LBFGS(line_search_fn="strong_wolfe")` does it.
//!
//! Along a descent direction `d` from `x`, with `phi(t) = f(x + t d)` and `phi'(t)` its slope,
//! a step `t` is accepted when
//! `phi(t) <= phi(0) + c1 t phi'(0)` (sufficient decrease) and
//! `|phi'(t)| <= c2 |phi'(0)|` (curvature).

use crate::error::Error;

/// The constants of the strong Wolfe conditions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Wolfe {
    pub c1: f64,
    pub c2: f64,
}

/// One evaluation of `phi`: its value and slope.
#[derive(Debug, Clone, Copy)]
struct Point {
    t: f64,
    value: f64,
    slope: f64,
}

/// Where a line search stopped: the step, and whether it meets both conditions (otherwise
/// it is the lowest point found, which decreases `phi`). The caller's last evaluation is
/// always at `t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Found {
    pub t: f64,
    pub value: f64,
    pub slope: f64,
    pub wolfe: bool,
    pub evaluations: usize,
}

/// The minimum of the cubic through two points with their slopes, or the midpoint where the
/// cubic has none; kept within `[low, high]`.
fn cubic_minimum(a: Point, b: Point, low: f64, high: f64) -> f64 {
    let d1 = a.slope + b.slope - 3.0 * (a.value - b.value) / (a.t - b.t);
    let square = d1 * d1 - a.slope * b.slope;
    if square >= 0.0 {
        let d2 = square.sqrt() * (b.t - a.t).signum();
        let t = b.t - (b.t - a.t) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2);
        if t.is_finite() {
            return t.clamp(low, high);
        }
    }
    (low + high) / 2.0
}

/// Searches from `start` (`phi(0)` and `phi'(0) < 0`) with a first trial step `t0`.
/// `phi(t)` evaluates the objective at `x + t d` and returns its value and slope; a
/// non-finite value is an error (the caller restores `x`). At most `budget` evaluations.
pub(crate) fn strong_wolfe(
    wolfe: Wolfe,
    value0: f64,
    slope0: f64,
    t0: f64,
    budget: usize,
    phi: &mut dyn FnMut(f64) -> Result<(f64, f64), Error>,
) -> Result<Found, Error> {
    let start = Point {
        t: 0.0,
        value: value0,
        slope: slope0,
    };
    let mut evaluations = 0;
    let mut evaluate = |t: f64, evaluations: &mut usize| -> Result<Point, Error> {
        *evaluations += 1;
        let (value, slope) = phi(t)?;
        if !value.is_finite() || !slope.is_finite() {
            return Err(Error::NonFiniteLoss { value });
        }
        Ok(Point { t, value, slope })
    };
    let decreases = |p: Point| p.value <= value0 + wolfe.c1 * p.t * slope0;
    let flat = |p: Point| p.slope.abs() <= -wolfe.c2 * slope0;
    let found = |p: Point, wolfe: bool, evaluations: usize| Found {
        t: p.t,
        value: p.value,
        slope: p.slope,
        wolfe,
        evaluations,
    };
    // Bracketing: grow the step until it overshoots or meets the conditions.
    let (mut previous, mut t) = (start, t0);
    let (mut low, mut high) = loop {
        let p = evaluate(t, &mut evaluations)?;
        if !decreases(p) || (evaluations > 1 && p.value >= previous.value) {
            break (previous, p);
        }
        if flat(p) {
            return Ok(found(p, true, evaluations));
        }
        if p.slope >= 0.0 {
            break (p, previous);
        }
        if evaluations >= budget {
            return Ok(found(p, false, evaluations));
        }
        let next = cubic_minimum(previous, p, p.t + 0.01 * (p.t - previous.t), 10.0 * p.t);
        (previous, t) = (p, next);
    };
    // Zoom: shrink [low, high] (low the better end, which decreases phi) to a Wolfe point.
    let mut last = high;
    while evaluations < budget {
        let (a, b) = (low.t.min(high.t), low.t.max(high.t));
        let margin = 0.1 * (b - a);
        if b - a <= 1e-12 * b.max(1.0) {
            break;
        }
        let t = cubic_minimum(low, high, a + margin, b - margin);
        let p = evaluate(t, &mut evaluations)?;
        last = p;
        if !decreases(p) || p.value >= low.value {
            high = p;
        } else {
            if flat(p) {
                return Ok(found(p, true, evaluations));
            }
            if p.slope * (high.t - low.t) >= 0.0 {
                high = low;
            }
            low = p;
        }
    }
    // No Wolfe point within the budget: the lowest point seen, evaluated again unless it was
    // the last (the caller keeps the gradient of the last evaluation).
    if low.t == 0.0 {
        return Ok(found(start, false, evaluations));
    }
    if last.t != low.t {
        low = evaluate(low.t, &mut evaluations)?;
    }
    Ok(found(low, false, evaluations))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WOLFE: Wolfe = Wolfe { c1: 1e-4, c2: 0.9 };

    #[test]
    fn a_quadratic_s_minimum_is_found_by_interpolation() {
        // phi(t) = (t - 3)^2: phi(0) = 9, phi'(0) = -6; the minimum is at 3.
        let mut phi = |t: f64| Ok(((t - 3.0) * (t - 3.0), 2.0 * (t - 3.0)));
        let tight = Wolfe { c1: 1e-4, c2: 1e-6 };
        let found = strong_wolfe(tight, 9.0, -6.0, 1.0, 20, &mut phi).unwrap();
        assert!(found.wolfe && (found.t - 3.0).abs() < 1e-9, "{found:?}");
        // The usual constants accept a point that is not the minimum but meets both tests.
        let found = strong_wolfe(WOLFE, 9.0, -6.0, 1.0, 20, &mut phi).unwrap();
        assert!(found.wolfe);
        assert!(found.value <= 9.0 + WOLFE.c1 * found.t * -6.0);
        assert!(found.slope.abs() <= WOLFE.c2 * 6.0);
    }

    #[test]
    fn a_non_finite_value_is_an_error() {
        let mut phi = |t: f64| {
            Ok(if t > 0.5 {
                (f64::NAN, 0.0)
            } else {
                (1.0 - t, -1.0)
            })
        };
        assert!(strong_wolfe(WOLFE, 1.0, -1.0, 1.0, 20, &mut phi).is_err());
    }

    #[test]
    fn without_a_wolfe_point_the_lowest_point_is_returned_and_evaluated_last() {
        // A slope that never flattens: phi(t) = -t, with a budget of 3.
        let mut last = f64::NAN;
        let mut phi = |t: f64| {
            last = t;
            Ok((-t, -1.0))
        };
        let found = strong_wolfe(WOLFE, 0.0, -1.0, 1.0, 3, &mut phi).unwrap();
        assert!(!found.wolfe && found.t > 1.0 && found.value == -found.t);
        assert_eq!(last, found.t);
    }
}
