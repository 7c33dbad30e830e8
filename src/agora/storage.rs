//! Agora's third-party storage vendors and their region indexes, from the
//! reference's tables (Agora's `region-vendor` page, with older indexes that
//! current docs dropped but that Agora still lists in release notes).
//!
//! Plans may name a vendor or region (`vendor: aws_s3`, `region: us-east-1`)
//! instead of giving Agora's number; the names here are what they accept.

/// One storage vendor: Agora's code, the name plans use, and its regions.
#[derive(Debug)]
pub struct Vendor {
    pub code: u32,
    pub name: &'static str,
    pub title: &'static str,
    /// `(index, name)`. Empty for vendors whose region Agora ignores (send 0).
    pub regions: &'static [(u32, &'static str)],
}

impl Vendor {
    /// Whether `index` is a region this vendor knows. Vendors whose region
    /// Agora ignores accept only 0.
    pub fn has_region(&self, index: u32) -> bool {
        if self.regions.is_empty() {
            return index == 0;
        }
        self.regions.iter().any(|&(i, _)| i == index)
    }

    /// The index of a region given by name, in any case, `-` or `_`.
    pub fn region_by_name(&self, name: &str) -> Option<u32> {
        let wanted = normalize(name);
        self.regions
            .iter()
            .find(|(_, n)| normalize(n) == wanted)
            .map(|&(i, _)| i)
    }

    /// Region names as plans write them (`us-east-1`).
    pub fn region_names(&self) -> impl Iterator<Item = String> + '_ {
        self.regions.iter().map(|(_, n)| normalize(n))
    }
}

fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

/// The vendor with Agora code `code`.
pub fn vendor_by_code(code: u32) -> Option<&'static Vendor> {
    VENDORS.iter().find(|v| v.code == code)
}

/// The vendor named `name` (`aws_s3`, `alibaba`, …), in any case.
pub fn vendor_by_name(name: &str) -> Option<&'static Vendor> {
    let wanted = normalize(name);
    VENDORS
        .iter()
        .find(|v| normalize(v.name) == wanted || normalize(v.title) == wanted)
}

/// Every vendor, for hints and the schema.
pub fn vendors() -> &'static [Vendor] {
    VENDORS
}

const VENDORS: &[Vendor] = &[
    Vendor {
        code: 0,
        name: "qiniu",
        title: "Qiniu",
        regions: &[
            (0, "east_china"),
            (1, "north_china"),
            (2, "south_china"),
            (3, "north_america"),
            (4, "southeast_asia"),
        ],
    },
    Vendor {
        code: 1,
        name: "aws_s3",
        title: "Amazon S3",
        regions: AWS_S3_REGIONS,
    },
    Vendor {
        code: 2,
        name: "alibaba",
        title: "Alibaba Cloud",
        regions: ALIBABA_REGIONS,
    },
    Vendor {
        code: 3,
        name: "tencent",
        title: "Tencent Cloud",
        regions: TENCENT_REGIONS,
    },
    Vendor {
        code: 4,
        name: "kingsoft",
        title: "Kingsoft Cloud",
        regions: &[
            (0, "cn_hangzhou"),
            (1, "cn_shanghai"),
            (2, "cn_qingdao"),
            (3, "cn_beijing"),
            (4, "cn_guangzhou"),
            (5, "cn_hongkong"),
            (6, "jr_beijing"),
            (7, "jr_shanghai"),
            (8, "na_russia_1"),
            (9, "na_singapore_1"),
        ],
    },
    Vendor {
        code: 5,
        name: "azure",
        title: "Microsoft Azure",
        regions: &[],
    },
    Vendor {
        code: 6,
        name: "google_cloud",
        title: "Google Cloud",
        regions: &[],
    },
    Vendor {
        code: 7,
        name: "huawei",
        title: "Huawei Cloud",
        regions: HUAWEI_REGIONS,
    },
    Vendor {
        code: 8,
        name: "baidu",
        title: "Baidu AI Cloud",
        // Index 0 (Beijing) appears only in older docs; kept so old plans validate.
        regions: &[
            (0, "beijing"),
            (1, "baoding"),
            (2, "suzhou"),
            (3, "guangzhou"),
            (4, "hongkong"),
            (5, "singapore"),
            (6, "wuhan"),
            (7, "shanghai"),
        ],
    },
    Vendor {
        code: 11,
        name: "s3_compatible",
        title: "S3-compatible",
        regions: &[],
    },
];

// Indexes 17, 23 and 28 are absent from Agora's current page but present in
// older docs and release notes; 26 is a sentinel, not a region, and 27 is
// unknown, so both are refused.
const AWS_S3_REGIONS: &[(u32, &str)] = &[
    (0, "us_east_1"),
    (1, "us_east_2"),
    (2, "us_west_1"),
    (3, "us_west_2"),
    (4, "eu_west_1"),
    (5, "eu_west_2"),
    (6, "eu_west_3"),
    (7, "eu_central_1"),
    (8, "ap_southeast_1"),
    (9, "ap_southeast_2"),
    (10, "ap_northeast_1"),
    (11, "ap_northeast_2"),
    (12, "sa_east_1"),
    (13, "ca_central_1"),
    (14, "ap_south_1"),
    (15, "cn_north_1"),
    (16, "cn_northwest_1"),
    (17, "us_gov_west_1"),
    (18, "af_south_1"),
    (19, "ap_east_1"),
    (20, "ap_northeast_3"),
    (21, "eu_north_1"),
    (22, "me_south_1"),
    (23, "us_gov_east_1"),
    (24, "ap_southeast_3"),
    (25, "eu_south_1"),
    (28, "il_central_1"),
];

const ALIBABA_REGIONS: &[(u32, &str)] = &[
    (0, "cn_hangzhou"),
    (1, "cn_shanghai"),
    (2, "cn_qingdao"),
    (3, "cn_beijing"),
    (4, "cn_zhangjiakou"),
    (5, "cn_huhehaote"),
    (6, "cn_shenzhen"),
    (7, "cn_hongkong"),
    (8, "us_west_1"),
    (9, "us_east_1"),
    (10, "ap_southeast_1"),
    (11, "ap_southeast_2"),
    (12, "ap_southeast_3"),
    (13, "ap_southeast_5"),
    (14, "ap_northeast_1"),
    (15, "ap_south_1"),
    (16, "eu_central_1"),
    (17, "eu_west_1"),
    (18, "eu_east_1"),
    (19, "ap_southeast_6"),
    (20, "cn_heyuan"),
    (21, "cn_guangzhou"),
    (22, "cn_chengdu"),
    (23, "cn_nanjing"),
    (24, "cn_fuzhou"),
    (25, "cn_wulanchabu"),
    (26, "cn_northeast_2"),
    (27, "cn_southeast_7"),
];

const TENCENT_REGIONS: &[(u32, &str)] = &[
    (0, "ap_beijing_1"),
    (1, "ap_beijing"),
    (2, "ap_shanghai"),
    (3, "ap_guangzhou"),
    (4, "ap_chengdu"),
    (5, "ap_chongqing"),
    (6, "ap_shenzhen_fsi"),
    (7, "ap_shanghai_fsi"),
    (8, "ap_beijing_fsi"),
    (9, "ap_hongkong"),
    (10, "ap_singapore"),
    (11, "ap_mumbai"),
    (12, "ap_seoul"),
    (13, "ap_bangkok"),
    (14, "ap_tokyo"),
    (15, "na_siliconvalley"),
    (16, "na_ashburn"),
    (17, "na_toronto"),
    (18, "eu_frankfurt"),
    (19, "eu_moscow"),
];

const HUAWEI_REGIONS: &[(u32, &str)] = &[
    (0, "cn_north_1"),
    (1, "cn_north_4"),
    (2, "cn_east_2"),
    (3, "cn_east_3"),
    (4, "cn_south_1"),
    (5, "cn_southwest_2"),
    (6, "ap_southeast_1"),
    (7, "ap_southeast_2"),
    (8, "ap_southeast_3"),
    (9, "af_south_1"),
    (10, "sa_argentina_1"),
    (11, "sa_peru_1"),
    (12, "na_mexico_1"),
    (13, "sa_brazil_1"),
    (14, "la_south_2"),
    (15, "sa_chile_1"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_map_to_agora_indexes() {
        let s3 = vendor_by_name("aws_s3").unwrap();
        assert_eq!(s3.code, 1);
        assert_eq!(s3.region_by_name("us-east-1"), Some(0));
        assert_eq!(s3.region_by_name("EU_CENTRAL_1"), Some(7));
        assert_eq!(s3.region_by_name("il-central-1"), Some(28));
        assert!(!s3.has_region(26));
        assert_eq!(vendor_by_name("Alibaba Cloud").unwrap().code, 2);
        assert!(vendor_by_code(9).is_none());
        assert!(vendor_by_code(5).unwrap().has_region(0));
        assert!(!vendor_by_code(5).unwrap().has_region(1));
    }
}
