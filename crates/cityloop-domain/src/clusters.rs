//! Density clustering (DBSCAN) of case locations: spots where cases of one kind lie close together,
//! wherever grid or cell boundaries happen to cut through them.
//!
//! Points are projected onto a local plane in metres (equirectangular about their mean latitude, exact
//! to well under 1 % across a city) and clustered with the classic algorithm of Ester et al. (1996) in
//! the same order as scikit-learn's `DBSCAN`, so the two give the same labels for the same points.

use rstar::primitives::GeomWithData;
use rstar::RTree;

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Label of a point in no cluster.
pub const NOISE: i32 = -1;

/// (lat, lon) points as (x, y) metres on a plane about their mean latitude.
pub fn project_to_metres(points: &[(f64, f64)]) -> Vec<[f64; 2]> {
    if points.is_empty() {
        return Vec::new();
    }
    let mean_lat = points.iter().map(|p| p.0).sum::<f64>() / points.len() as f64;
    let scale_x = mean_lat.to_radians().cos() * EARTH_RADIUS_M;
    points.iter().map(|(lat, lon)| [lon.to_radians() * scale_x, lat.to_radians() * EARTH_RADIUS_M]).collect()
}

/// DBSCAN labels (0, 1, … per cluster, [`NOISE`] otherwise) of points in metres: a point with at least
/// `min_points` points (itself included) within `eps_m` is a core point; clusters are the core points
/// that reach each other, with the points they reach.
pub fn dbscan(points: &[[f64; 2]], eps_m: f64, min_points: usize) -> Vec<i32> {
    let tree = RTree::bulk_load(points.iter().enumerate().map(|(i, p)| GeomWithData::new(*p, i)).collect());
    let eps2 = eps_m * eps_m;
    let neighbours = |i: usize| -> Vec<usize> {
        let mut found: Vec<usize> = tree.locate_within_distance(points[i], eps2).map(|g| g.data).collect();
        found.sort_unstable();
        found
    };
    let mut labels = vec![NOISE; points.len()];
    let mut is_core = vec![None::<bool>; points.len()];
    let mut next = 0;
    for start in 0..points.len() {
        if labels[start] != NOISE || is_core[start] == Some(false) {
            continue;
        }
        let around = neighbours(start);
        is_core[start] = Some(around.len() >= min_points);
        if around.len() < min_points {
            continue;
        }
        // Grow the cluster from a stack of core points, as scikit-learn does.
        labels[start] = next;
        let mut stack = vec![around];
        while let Some(frontier) = stack.pop() {
            for j in frontier {
                if labels[j] != NOISE {
                    continue;
                }
                labels[j] = next;
                let reach = neighbours(j);
                let core = reach.len() >= min_points;
                is_core[j] = Some(core);
                if core {
                    stack.push(reach);
                }
            }
        }
        next += 1;
    }
    labels
}

/// One cluster: its members (indices into the points) and where it lies.
#[derive(Debug, Clone, PartialEq)]
pub struct DensityCluster {
    pub members: Vec<usize>,
    /// Mean (lat, lon) of the members.
    pub centre: (f64, f64),
    /// Distance from the centre to the farthest member, in metres.
    pub radius_m: f64,
}

/// The clusters of (lat, lon) points, largest first.
pub fn density_clusters(points: &[(f64, f64)], eps_m: f64, min_points: usize) -> Vec<DensityCluster> {
    let plane = project_to_metres(points);
    let labels = dbscan(&plane, eps_m, min_points);
    let count = labels.iter().copied().max().map_or(0, |m| (m + 1).max(0) as usize);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, label) in labels.iter().enumerate() {
        if *label >= 0 {
            members[*label as usize].push(i);
        }
    }
    let mut out: Vec<DensityCluster> = members
        .into_iter()
        .map(|members| {
            let n = members.len() as f64;
            let centre = (
                members.iter().map(|i| points[*i].0).sum::<f64>() / n,
                members.iter().map(|i| points[*i].1).sum::<f64>() / n,
            );
            let (cx, cy) = (
                members.iter().map(|i| plane[*i][0]).sum::<f64>() / n,
                members.iter().map(|i| plane[*i][1]).sum::<f64>() / n,
            );
            let radius_m = members.iter().map(|i| (plane[*i][0] - cx).hypot(plane[*i][1] - cy)).fold(0.0_f64, f64::max);
            DensityCluster { members, centre, radius_m }
        })
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.members.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points `metres` apart going east from a spot in the city.
    fn east_of(lat: f64, lon: f64, metres: &[f64]) -> Vec<(f64, f64)> {
        let per_degree = 111_195.0 * lat.to_radians().cos();
        metres.iter().map(|m| (lat, lon + m / per_degree)).collect()
    }

    #[test]
    fn points_within_reach_of_each_other_form_one_cluster_and_strays_are_noise() {
        let mut points = east_of(39.9, 116.4, &[0.0, 40.0, 80.0, 120.0, 160.0]);
        points.extend(east_of(39.9, 116.5, &[0.0, 30.0, 60.0]));
        points.push((39.95, 116.45));
        let plane = project_to_metres(&points);
        // In a chain 40 m apart each inner point has three within 50 m (itself included): the two ends
        // are border points, still in.
        assert_eq!(dbscan(&plane, 50.0, 3), [0, 0, 0, 0, 0, 1, 1, 1, NOISE]);
        // Asking for four, nothing is dense enough.
        assert_eq!(dbscan(&plane, 50.0, 4), [NOISE, NOISE, NOISE, NOISE, NOISE, NOISE, NOISE, NOISE, NOISE]);
        let clusters = density_clusters(&points, 50.0, 3);
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[0].members, [0, 1, 2, 3, 4]);
        assert!((clusters[0].radius_m - 80.0).abs() < 0.5, "{}", clusters[0].radius_m);
    }

    #[test]
    fn a_border_point_goes_to_the_first_cluster_that_reaches_it() {
        // Two dense spots 100 m apart with one point half-way, within reach of both but not dense.
        let points = east_of(31.2, 121.5, &[0.0, 2.0, 4.0, 6.0, 53.0, 100.0, 102.0, 104.0, 106.0]);
        let labels = dbscan(&project_to_metres(&points), 48.0, 4);
        assert_eq!(labels, [0, 0, 0, 0, 0, 1, 1, 1, 1]);
    }
}
