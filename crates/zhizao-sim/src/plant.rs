//! Master data of the demo plant: a prefab steel-structure workshop (30
//! machines) and a submersible-pump parts plant (12 machines).

use serde_json::json;
use zhizao_store::{ListQuery, NewArea, NewEquipment, NewLine, NewSite, Store, StoreError};

struct LineSpec {
    code: &'static str,
    name: &'static str,
    prefix: &'static str,
    machine_name: &'static str,
    equipment_type: &'static str,
    count: usize,
    power_kw: u32,
}

struct AreaSpec {
    code: &'static str,
    name: &'static str,
    lines: &'static [LineSpec],
}

struct SiteSpec {
    code: &'static str,
    name: &'static str,
    areas: &'static [AreaSpec],
}

const PLANT: &[SiteSpec] = &[
    SiteSpec {
        code: "STEEL",
        name: "装配式钢结构预制车间",
        areas: &[
            AreaSpec {
                code: "STL-FAB",
                name: "下料加工区",
                lines: &[
                    LineSpec {
                        code: "L-CUT",
                        name: "数控切割线",
                        prefix: "CUT",
                        machine_name: "数控火焰/等离子切割机",
                        equipment_type: "cnc_cutting",
                        count: 6,
                        power_kw: 45,
                    },
                    LineSpec {
                        code: "L-DRL",
                        name: "钻孔线",
                        prefix: "DRL",
                        machine_name: "三维数控钻床",
                        equipment_type: "drilling",
                        count: 6,
                        power_kw: 22,
                    },
                ],
            },
            AreaSpec {
                code: "STL-ASM",
                name: "组立焊接区",
                lines: &[LineSpec {
                    code: "L-WLD",
                    name: "组立焊接线",
                    prefix: "WLD",
                    machine_name: "埋弧焊/组立机",
                    equipment_type: "welding",
                    count: 8,
                    power_kw: 60,
                }],
            },
            AreaSpec {
                code: "STL-FIN",
                name: "表面处理区",
                lines: &[
                    LineSpec {
                        code: "L-BLS",
                        name: "抛丸线",
                        prefix: "BLS",
                        machine_name: "通过式抛丸机",
                        equipment_type: "shot_blasting",
                        count: 4,
                        power_kw: 110,
                    },
                    LineSpec {
                        code: "L-PNT",
                        name: "喷涂线",
                        prefix: "PNT",
                        machine_name: "喷涂房",
                        equipment_type: "painting",
                        count: 6,
                        power_kw: 30,
                    },
                ],
            },
        ],
    },
    SiteSpec {
        code: "PUMP",
        name: "潜水泵零部件工厂",
        areas: &[
            AreaSpec {
                code: "PMP-MCH",
                name: "机加工区",
                lines: &[
                    LineSpec {
                        code: "L-TRN",
                        name: "数控车削线",
                        prefix: "TRN",
                        machine_name: "数控车床",
                        equipment_type: "cnc_turning",
                        count: 4,
                        power_kw: 15,
                    },
                    LineSpec {
                        code: "L-MC",
                        name: "加工中心线",
                        prefix: "MC",
                        machine_name: "立式加工中心",
                        equipment_type: "machining_center",
                        count: 4,
                        power_kw: 18,
                    },
                ],
            },
            AreaSpec {
                code: "PMP-ASM",
                name: "装配试验区",
                lines: &[
                    LineSpec {
                        code: "L-ASM",
                        name: "装配线",
                        prefix: "ASM",
                        machine_name: "装配工位",
                        equipment_type: "assembly",
                        count: 2,
                        power_kw: 5,
                    },
                    LineSpec {
                        code: "L-TST",
                        name: "性能试验台",
                        prefix: "TST",
                        machine_name: "潜水泵试验台",
                        equipment_type: "test_bench",
                        count: 2,
                        power_kw: 75,
                    },
                ],
            },
        ],
    },
];

/// How many machines the demo plant has.
pub fn machine_count() -> usize {
    PLANT
        .iter()
        .flat_map(|s| s.areas)
        .flat_map(|a| a.lines)
        .map(|l| l.count)
        .sum()
}

/// Seeds the demo plant into a tenant that has no sites yet. Returns whether
/// anything was created (a second start keeps the existing data).
pub async fn seed(store: &Store, tenant_id: i64) -> Result<bool, StoreError> {
    if store
        .list_sites(tenant_id, &ListQuery::default())
        .await?
        .total
        > 0
    {
        return Ok(false);
    }
    for s in PLANT {
        let site = store
            .create_site(
                tenant_id,
                NewSite {
                    code: s.code.into(),
                    name: s.name.into(),
                    timezone: Some("Asia/Shanghai".into()),
                },
            )
            .await?;
        for a in s.areas {
            let area = store
                .create_area(
                    tenant_id,
                    NewArea {
                        site_id: site.id,
                        code: a.code.into(),
                        name: a.name.into(),
                    },
                )
                .await?;
            for l in a.lines {
                let line = store
                    .create_line(
                        tenant_id,
                        NewLine {
                            area_id: area.id,
                            code: l.code.into(),
                            name: l.name.into(),
                        },
                    )
                    .await?;
                for i in 1..=l.count {
                    // The ideal cycle time (for OEE) is a little under the
                    // simulated machine's real one.
                    let ideal_cycle_s =
                        (crate::MachineProfile::for_type(l.equipment_type).cycle_s * 9.0).round()
                            / 10.0;
                    let attributes = json!({"power_kw": l.power_kw, "commissioned": 2018 + (i % 6), "ideal_cycle_s": ideal_cycle_s});
                    store
                        .create_equipment(
                            tenant_id,
                            NewEquipment {
                                line_id: line.id,
                                code: format!("{}-{i:02}", l.prefix),
                                name: format!("{} {i}#", l.machine_name),
                                equipment_type: l.equipment_type.into(),
                                work_cell: Some(format!("{}-C{}", l.prefix, i.div_ceil(2))),
                                attributes: attributes.as_object().cloned().unwrap_or_default(),
                            },
                        )
                        .await?;
                }
            }
        }
    }
    Ok(true)
}

/// The demo plant's alarm rules: a machine down too long, a hot machine, a
/// silent machine, a control chart out of control.
pub fn alarm_rules() -> Vec<zhizao_alarm::Rule> {
    use zhizao_alarm::{Condition, Rule, Severity};
    vec![
        Rule {
            id: "down-too-long".into(),
            name: "停机时间过长".into(),
            severity: Severity::High,
            condition: Condition::StateLonger {
                state: "down".into(),
                for_s: 45,
            },
            enabled: true,
            on_delay_s: 0,
            off_delay_s: 0,
            sources: None,
        },
        Rule {
            id: "over-temperature".into(),
            name: "温度过高".into(),
            severity: Severity::Medium,
            condition: Condition::Above {
                field: "temperature".into(),
                limit: 74.0,
                deadband: 2.0,
            },
            enabled: true,
            on_delay_s: 30,
            off_delay_s: 10,
            sources: None,
        },
        Rule {
            id: "spc-out-of-control".into(),
            name: "SPC 判异".into(),
            severity: Severity::High,
            condition: Condition::Above {
                field: "spc_signal".into(),
                limit: 0.5,
                deadband: 0.0,
            },
            enabled: true,
            on_delay_s: 0,
            off_delay_s: 0,
            sources: None,
        },
        Rule {
            id: "no-data".into(),
            name: "设备无数据".into(),
            severity: Severity::Medium,
            condition: Condition::NoData { for_s: 30 },
            enabled: true,
            on_delay_s: 0,
            off_delay_s: 0,
            sources: None,
        },
    ]
}
