//! Agora's API domains and the order to fall back through them when one is
//! unreachable: the same domain, the other global one (`api.agora.io` ↔
//! `api.sd-rtn.com`), then a regional one (§9.3, §10). Pure: no I/O.
//!
//! Only Agora's own domains are ever switched. A base set to anything else
//! (the simulator on loopback, a proxy, a port or a path) was chosen on
//! purpose, and every retry goes back to it.

use crate::agora::ApiBase;

/// The global domain suffixes: outside and inside mainland China.
const SUFFIXES: [&str; 2] = ["agora.io", "sd-rtn.com"];

/// A group of Agora's regional domains (the grouping of Agora's Go REST
/// client). Agora advises checking that the service runs in a region before
/// switching to it; recplan cannot check, so the area is configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Area {
    Us,
    Eu,
    Ap,
    Cn,
}

impl Area {
    /// Its regions, in the order to try them.
    pub fn regions(self) -> [&'static str; 2] {
        match self {
            Area::Us => ["us-west-1", "us-east-1"],
            Area::Eu => ["eu-west-1", "eu-central-1"],
            Area::Ap => ["ap-southeast-1", "ap-northeast-1"],
            Area::Cn => ["cn-east-1", "cn-north-1"],
        }
    }

    fn of_region(region: &str) -> Option<Area> {
        [Area::Us, Area::Eu, Area::Ap, Area::Cn]
            .into_iter()
            .find(|area| area.regions().contains(&region))
    }
}

/// One of Agora's domains: `api.<suffix>` or `api-<region>.<suffix>`.
struct AgoraHost<'a> {
    region: Option<&'a str>,
    suffix: &'static str,
}

impl AgoraHost<'_> {
    fn parse(base: &ApiBase) -> Option<AgoraHost<'_>> {
        let host = base.host()?;
        // The bare `https://host` only: a port or a path means the base is
        // not Agora's as published.
        if base.as_str().strip_prefix("https://") != Some(host) {
            return None;
        }
        let (label, suffix) = host.split_once('.')?;
        let suffix = SUFFIXES.into_iter().find(|known| *known == suffix)?;
        let region = match label {
            "api" => None,
            _ => Some(
                label
                    .strip_prefix("api-")
                    .filter(|r| Area::of_region(r).is_some())?,
            ),
        };
        Some(AgoraHost { region, suffix })
    }

    fn name(region: Option<&str>, suffix: &str) -> String {
        match region {
            Some(region) => format!("api-{region}.{suffix}"),
            None => format!("api.{suffix}"),
        }
    }
}

/// The distinct bases to try, in order: `base` itself, then, if it is one of
/// Agora's domains, the same name under the other global suffix and the
/// regional domains of `area` (by default the base's own region's area, else
/// `Cn` under `sd-rtn.com` and `Us` under `agora.io`). Any other base is the
/// only one.
pub fn domain_candidates(base: &ApiBase, area: Option<Area>) -> Vec<ApiBase> {
    let Some(host) = AgoraHost::parse(base) else {
        return vec![base.clone()];
    };
    let other = SUFFIXES
        .into_iter()
        .find(|suffix| *suffix != host.suffix)
        .unwrap_or(host.suffix);
    let area = area
        .or_else(|| host.region.and_then(Area::of_region))
        .unwrap_or(if host.suffix == "sd-rtn.com" {
            Area::Cn
        } else {
            Area::Us
        });
    let mut names = vec![AgoraHost::name(host.region, other)];
    names.extend(
        area.regions()
            .into_iter()
            .map(|region| AgoraHost::name(Some(region), host.suffix)),
    );
    let mut candidates = vec![base.clone()];
    for name in names {
        // Every name here is a valid host; a failure would only drop a
        // fallback, never the configured base.
        if let Ok(candidate) = ApiBase::parse(&format!("https://{name}"))
            && !candidates.contains(&candidate)
        {
            candidates.push(candidate);
        }
    }
    candidates
}

/// Which candidate the next attempt uses after `transport_failures` calls in
/// a row got no answer: the same base for the first retry, then one further
/// down the list per failure, staying on the last.
pub fn base_index(transport_failures: usize, candidates: usize) -> usize {
    transport_failures
        .saturating_sub(1)
        .min(candidates.saturating_sub(1))
}

/// The base of each of `attempts` attempts when every one gets no answer.
pub fn transport_bases(base: &ApiBase, area: Option<Area>, attempts: usize) -> Vec<ApiBase> {
    let candidates = domain_candidates(base, area);
    (0..attempts)
        .map(|failures| candidates[base_index(failures, candidates.len())].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> ApiBase {
        ApiBase::parse(url).unwrap()
    }

    fn hosts(bases: &[ApiBase]) -> Vec<&str> {
        bases.iter().map(ApiBase::as_str).collect()
    }

    #[test]
    fn the_global_domain_falls_back_to_the_other_then_a_region() {
        let bases = transport_bases(&base("https://api.agora.io"), None, 4);
        assert_eq!(
            hosts(&bases),
            [
                "https://api.agora.io",
                "https://api.agora.io",
                "https://api.sd-rtn.com",
                "https://api-us-west-1.agora.io",
            ]
        );
        let bases = transport_bases(&base("https://api.sd-rtn.com/"), None, 6);
        assert_eq!(
            hosts(&bases),
            [
                "https://api.sd-rtn.com",
                "https://api.sd-rtn.com",
                "https://api.agora.io",
                "https://api-cn-east-1.sd-rtn.com",
                "https://api-cn-north-1.sd-rtn.com",
                "https://api-cn-north-1.sd-rtn.com",
            ]
        );
    }

    #[test]
    fn the_area_picks_the_regions() {
        let bases = domain_candidates(&base("https://api.agora.io"), Some(Area::Eu));
        assert_eq!(
            hosts(&bases),
            [
                "https://api.agora.io",
                "https://api.sd-rtn.com",
                "https://api-eu-west-1.agora.io",
                "https://api-eu-central-1.agora.io",
            ]
        );
        // A regional base keeps its own area and is not listed twice.
        let bases = domain_candidates(&base("https://api-ap-northeast-1.agora.io"), None);
        assert_eq!(
            hosts(&bases),
            [
                "https://api-ap-northeast-1.agora.io",
                "https://api-ap-northeast-1.sd-rtn.com",
                "https://api-ap-southeast-1.agora.io",
            ]
        );
    }

    #[test]
    fn any_other_base_is_never_switched() {
        for url in [
            "http://127.0.0.1:40123",
            "http://localhost:8080/agora",
            "https://agora-proxy.example.com",
            "https://api.agora.io:8443",
            "https://api.agora.io/prefix",
            "https://api-mars-1.agora.io",
            "https://api.agora.io.example.com",
        ] {
            let bases = transport_bases(&base(url), Some(Area::Us), 4);
            assert_eq!(hosts(&bases), [base(url).as_str(); 4], "{url}");
        }
    }

    #[test]
    fn the_index_stays_in_range() {
        assert_eq!(base_index(0, 1), 0);
        assert_eq!(base_index(5, 1), 0);
        assert_eq!(base_index(1, 4), 0);
        assert_eq!(base_index(2, 4), 1);
        assert_eq!(base_index(9, 4), 3);
        assert_eq!(base_index(3, 0), 0);
    }
}
