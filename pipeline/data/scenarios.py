"""Scenarios for the synthetic extracts: who is in the data, base rates and the true effects.

Why this module exists: the pipeline's default data source is synthetic, so every estimator
can be checked against effects we *know* (docs/design.md sections 3 and 4). Each scenario is a
plain, frozen dataclass so the truth is readable in one place and ends up verbatim in
``truth.json`` next to the extract.

All effects are on the log-odds scale. For a row in unit ``u``, month index ``t`` (months since
the window start) and strata ``s``::

    logit p = baseline + unit_effect[u] + imd_gradient * (imd_quintile - 3) + demographic effects
              + pre_trend * t
              + sum over phases k started (t >= start_k[u]):
                    levels[k] + slopes[k] * (t - start_k[u]) + q1_extra_levels[k] * [imd_quintile == 1]
              + month_effect[u, t]          (normal, sd month_sd: mild over-dispersion)

A flag with a ``parent`` is drawn only among rows whose parent flag is 1 (e.g. HCV referral
among HCV positives); rows whose parent is 0 get 1 with probability ``rate_if_parent_0``.

Base rates are *approximations* chosen to look like published figures; they are not
estimates of any real service. Sources:

- [BTS-2021] British Thoracic Society, national audit of tobacco dependency treatment in acute
  trusts 2021 (BMJ Open Respir Res 2023;10:e001532; BTS news release 2022): 21% of inpatients
  smoked, 45% of smokers were given very brief advice (VBA), about 15% referred to a hospital or
  community stop-smoking service. [BTS-2019] BTS smoking cessation audit 2019: 44% of smokers
  asked whether they would like help to quit, about 1 in 8 referred.
- [NCSCT] National Centre for Smoking Cessation and Training, Very Brief Advice (Ask, Advise,
  Act); [NG209] NICE guideline NG209 (2021), Tobacco: preventing uptake, promoting quitting and
  treating dependence: advise and refer every smoker in hospital.
- [NACAP-PR] National Asthma and COPD Audit Programme, pulmonary rehabilitation clinical audit
  (RCP/HQIP, 2019 interim report, 2020): QI priorities to enrol 85% of stable COPD referrals
  within 90 days and for 70% of those enrolled to complete with a discharge assessment;
  the 2015 national PR audit found about 40% of those assessed did not complete.
- [UKHSA-HCV] UKHSA, Hepatitis C in England 2023: chronic HCV prevalence among people who
  inject drugs 11.8%, testing and treatment delivered largely through drug services.
  [PHE-CoC] Ireland et al., Mapping the hepatitis C cascade of care in people attending drug
  treatment services in England, Int J Drug Policy 2019;72:55-60 (SSBBV linked to NDTMS):
  testing, positivity and referral are well below target in drug services.
- [NDTMS] National Drug Treatment Monitoring System (OHID): adults in treatment are about two
  thirds male, mostly aged 30-54, and concentrated in the most deprived areas; NDTMS records
  BBV status (HBV/HCV/HIV tested, vaccinated, referred).
- [Core20PLUS5] NHS England: Core20 = most deprived 20% by national IMD (quintile 1); PLUS
  groups chosen locally, e.g. people experiencing homelessness.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ETHNICITY = ("White", "Mixed", "Asian", "Black", "Other", "Not stated")
SEX = ("Female", "Male")
AGE_BANDS = ("18-34", "35-49", "50-64", "65+")
IMD = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Flag:
    """One 0/1 outcome column and its true (conditional, log-odds) effects.

    ``levels``, ``slopes`` and ``q1_extra_levels`` are per phase, in the order of the phases in
    ``params.yaml``; phases beyond their length have no effect, so editing params never breaks
    the simulator.
    """

    name: str
    baseline: float                     # log-odds at t=0, IMD 3, reference strata, unit effect 0
    pre_trend: float = 0.0              # log-odds per month, whole window
    levels: tuple[float, ...] = ()      # level change at each phase start
    slopes: tuple[float, ...] = ()      # slope change (per month since that phase started)
    imd_gradient: float = 0.0           # log-odds per quintile step towards least deprived
    q1_extra_levels: tuple[float, ...] = ()   # extra level change in IMD quintile 1 (Core20)
    parent: str | None = None           # drawn only among parent == 1
    rate_if_parent_0: float = 0.0       # probability of 1 when parent == 0
    month_sd: float = 0.05              # unit-month random effect (mild over-dispersion)
    # Index of the phase whose start collection of this flag began: earlier rows are 0 (not
    # recorded), and only later phases have a truth (docs/adr/0075).
    from_phase: int | None = None
    # Extra level change per phase in the scenario's target group (docs/adr/0078).
    target_extra_levels: tuple[float, ...] = ()

    def phase_value(self, values: tuple[float, ...], k: int) -> float:
        """Effect of phase ``k`` (0 if the scenario defines fewer phases)."""
        return values[k] if k < len(values) else 0.0


@dataclass(frozen=True)
class Scenario:
    """Population, volumes and true effects of one intervention's synthetic extract."""

    key: str
    description: str
    units: tuple[str, ...]              # intervention units (params' unit_starts override)
    volume: tuple[int, int]             # caseload per unit, or mean rows per unit-month
    caseload: bool                      # True: patient-months on a persistent caseload
    flags: tuple[Flag, ...]
    outcomes: dict[str, tuple[str, str | None]]   # outcome key -> (numerator, denominator)
    imd_probs: tuple[float, ...]
    ethnicity_probs: tuple[float, ...]
    male_prob: float
    age_probs: tuple[float, ...]
    monthly_turnover: float = 0.0       # caseload: chance a patient leaves in a month
    unit_sd: float = 0.2                # between-unit sd of log-odds
    ethnicity_effects: dict[str, float] = field(default_factory=dict)
    male_effect: float = 0.0
    age_effects: dict[str, float] = field(default_factory=dict)
    homeless_prob: float | None = None  # PLUS-group flag column written only if set
    homeless_effect: float = 0.0
    sources: tuple[str, ...] = ()
    any_of: dict[str, tuple[str, ...]] = field(default_factory=dict)  # derived 0/1 = max(flags)
    staff: "StaffScenario | None" = None   # staff outcomes, written to staff.parquet
    target: dict[str, str] = field(default_factory=dict)   # e.g. {ethnicity: Asian, sex: Female}


@dataclass(frozen=True)
class StaffScenario:
    """Staff in post per unit and month, and the share trained (docs/adr/0076).

    Staff in post in unit ``u``: a fixed establishment drawn from ``in_post`` plus month-to-month
    noise (normal, sd ``in_post_sd``, at least 5). Trained staff ~ Binomial(in post, p) with
    ``logit p`` as for a patient flag, without strata (staff have no patient equity breakdown):
    baseline + unit effect + pre_trend*t + phase terms + unit-month effect. Each training flag
    is one outcome, ``<flag>`` over ``staff_in_post``.

    ``champions``: the range from which each intervention unit's number of champions is drawn;
    none are in post before the unit's first phase (stage 1 appointed them) and the drawn
    number from then on; comparator units have none (outcome ``champions_in_post``,
    docs/adr/0120).
    """

    in_post: tuple[int, int]
    flags: tuple[Flag, ...]
    in_post_sd: float = 1.5
    unit_sd: float = 0.25
    champions: tuple[int, int] | None = None


_ETH_EFFECTS = {"White": 0.0, "Mixed": -0.05, "Asian": -0.1, "Black": -0.1, "Other": -0.05,
                "Not stated": -0.2}

# The 7 areas of health in which THI stage 2 asked patients about perceived unmet need
# (docs/data.md): log-odds of need recorded when collection began (stage 2, January 2022), the
# level change at stage 3 (standards implemented), the monthly trend during stage 2, the IMD
# gradient (more need recorded in deprived areas) and stage 3's extra level in IMD quintile 1.
# Relationships has no stage-3 effect: a true null among the seven.
UNMET_NEED_AREAS = {
    "physical_health": (-1.5, 0.35, 0.0, -0.05, 0.0),
    "mental_health": (-1.1, 0.30, 0.01, 0.0, 0.0),
    "housing": (-1.75, 0.45, 0.0, -0.10, 0.20),
    "finances": (-1.4, 0.25, 0.0, -0.10, 0.0),
    "relationships": (-2.2, 0.0, 0.0, 0.0, 0.0),
    "employment_education": (-2.0, 0.20, 0.0, 0.0, 0.0),
    "substance_harm": (-2.45, 0.30, 0.01, 0.0, 0.0),
}

THI_MONTH = Scenario(
    key="thi_month",
    description=(
        "Four drug and alcohol services; each month's active caseload (a few hundred patients a "
        "service, about 4% leaving and being replaced each month) gives one row per "
        "patient-month. BBV test uptake starts near 10% a month, HCV positivity among those "
        "tested near 15%, referral of positives near 55%; unmet need recorded in 7 areas of "
        "health only from stage 2 (8-25% an area), with a level change at stage 3; staff training (MECC, Advocacy, RSPH Level 2) among staff in "
        "post per service rises from stage 1. Three phases each add a level and slope change; BBV testing rises more in IMD quintile 1, so "
        "the deprivation gap (lower testing in quintile 1) narrows."),
    units=("service_1", "service_2", "service_3", "service_4"),
    volume=(220, 380),
    caseload=True,
    monthly_turnover=0.04,
    flags=(
        Flag("bbv_tested", baseline=-2.2, pre_trend=0.002, levels=(0.25, 0.15, 0.20),
             slopes=(0.010, 0.0, 0.005), imd_gradient=0.12, q1_extra_levels=(0.35, 0.0, 0.15)),
        Flag("hcv_positive", baseline=-1.73, imd_gradient=-0.10, parent="bbv_tested"),
        Flag("hcv_referred", baseline=0.20, levels=(0.30, 0.0, 0.40), slopes=(0.0, 0.0, 0.01),
             parent="hcv_positive"),
        *(Flag(f"unmet_{area}", baseline=base, levels=(0.0, 0.0, level),
               slopes=(0.0, slope, 0.0), imd_gradient=gradient,
               q1_extra_levels=(0.0, 0.0, q1), from_phase=1)
          for area, (base, level, slope, gradient, q1) in UNMET_NEED_AREAS.items()),
    ),
    outcomes={"bbv_test": ("bbv_tested", None), "hcv_referral": ("hcv_referred", "hcv_positive"),
              "unmet_need": ("unmet_need_any", None),
              **{f"unmet_{a}": (f"unmet_{a}", None) for a in UNMET_NEED_AREAS},
              **{k: (k, "staff_in_post") for k in ("mecc_trained", "advocacy_trained",
                                                   "rsph_l2_trained")}},
    any_of={"unmet_need_any": tuple(f"unmet_{a}" for a in UNMET_NEED_AREAS)},
    staff=StaffScenario(in_post=(40, 80), flags=(
        Flag("mecc_trained", baseline=-2.4, pre_trend=0.005, levels=(0.8, 0.2, 0.3),
             slopes=(0.03, 0.0, 0.0), month_sd=0.1),
        Flag("advocacy_trained", baseline=-3.0, levels=(0.5, 0.0, 0.6),
             slopes=(0.02, 0.0, 0.01), month_sd=0.1),
        Flag("rsph_l2_trained", baseline=-3.5, levels=(0.3, 0.0, 0.9),
             slopes=(0.0, 0.0, 0.03), month_sd=0.1),
    ), champions=(1, 3)),
    imd_probs=(0.36, 0.24, 0.18, 0.13, 0.09),
    ethnicity_probs=(0.85, 0.03, 0.04, 0.03, 0.01, 0.04),
    male_prob=0.68,
    age_probs=(0.25, 0.45, 0.27, 0.03),
    ethnicity_effects=_ETH_EFFECTS,
    male_effect=-0.05,
    age_effects={"18-34": -0.1, "35-49": 0.0, "50-64": 0.05, "65+": 0.0},
    homeless_prob=0.12,
    homeless_effect=-0.30,
    sources=("UKHSA-HCV", "PHE-CoC", "NDTMS", "Core20PLUS5"),
)

SMOKING_ADVICE = Scenario(
    key="smoking_advice",
    description=(
        "Five respiratory wards; one row per smoker admission (about 35-60 a ward-month). VBA "
        "starts near 40% and referral near 13% of smokers (most referrals follow VBA: 30% of "
        "those advised, 2% of the others). Training reaches each ward at its own date "
        "(params' unit_starts) and adds a level and slope change there only."),
    units=("ward_a", "ward_b", "ward_c", "ward_d", "ward_e"),
    volume=(35, 60),
    caseload=False,
    flags=(
        Flag("vba_given", baseline=-0.40, pre_trend=0.003, levels=(1.0,), slopes=(0.01,),
             imd_gradient=0.08),
        Flag("referred", baseline=-0.85, levels=(0.5,), slopes=(0.005,), parent="vba_given",
             rate_if_parent_0=0.02),
    ),
    outcomes={"vba_given": ("vba_given", None), "referred": ("referred", None)},
    imd_probs=(0.30, 0.25, 0.19, 0.15, 0.11),
    ethnicity_probs=(0.82, 0.03, 0.07, 0.04, 0.02, 0.02),
    male_prob=0.50,
    age_probs=(0.08, 0.17, 0.35, 0.40),
    ethnicity_effects=_ETH_EFFECTS,
    age_effects={"18-34": -0.1, "35-49": 0.0, "50-64": 0.0, "65+": 0.05},
    sources=("BTS-2021", "BTS-2019", "NCSCT", "NG209", "Core20PLUS5"),
)

PULMONARY_REHAB = Scenario(
    key="pulmonary_rehab",
    description=(
        "Two intervention services plus the comparator services named in params; one row per "
        "referral (about 45-75 a service-month). About 62% of referrals start and about 62% "
        "of starters complete (about 38% of referrals). Drop-in sessions and a video add a "
        "level change to starting and completing from the phase start, in intervention "
        "services only; comparators have no effect. Starting rises a little more in IMD "
        "quintile 1."),
    units=("service_a", "service_b"),
    volume=(45, 75),
    caseload=False,
    flags=(
        Flag("started", baseline=0.49, levels=(0.45,), slopes=(0.01,), imd_gradient=0.15,
             q1_extra_levels=(0.20,)),
        Flag("completed", baseline=0.49, levels=(0.35,), imd_gradient=0.10, parent="started"),
    ),
    outcomes={"started": ("started", None), "completed": ("completed", None)},
    imd_probs=(0.28, 0.24, 0.20, 0.16, 0.12),
    ethnicity_probs=(0.88, 0.02, 0.05, 0.03, 0.01, 0.01),
    male_prob=0.48,
    age_probs=(0.01, 0.06, 0.30, 0.63),
    ethnicity_effects=_ETH_EFFECTS,
    age_effects={"18-34": 0.0, "35-49": -0.1, "50-64": 0.0, "65+": -0.1},
    sources=("NACAP-PR", "Core20PLUS5"),
)

MSK_GROUPS = Scenario(
    key="msk_groups",
    description=(
        "Three MSK services; one row per referral to an exercise group (about 60-90 a "
        "service-month, a quarter of them Asian patients). About 35% attend. Women-only groups "
        "from the phase start add a small level change for everyone and a large one for Asian "
        "women (the target group), so their gap with everyone else narrows."),
    units=("msk_1", "msk_2", "msk_3"),
    volume=(60, 90),
    caseload=False,
    flags=(
        Flag("attended", baseline=-0.45, levels=(0.10,), target_extra_levels=(1.00,),
             imd_gradient=0.05),
    ),
    outcomes={"attended": ("attended", None)},
    imd_probs=(0.30, 0.25, 0.20, 0.15, 0.10),
    ethnicity_probs=(0.62, 0.04, 0.25, 0.05, 0.02, 0.02),
    male_prob=0.45,
    age_probs=(0.15, 0.30, 0.35, 0.20),
    ethnicity_effects={"Asian": -0.6},
    male_effect=0.2,
    target={"ethnicity": "Asian", "sex": "Female"},
    sources=("Core20PLUS5",),
)

SCENARIOS: dict[str, Scenario] = {s.key: s for s in (THI_MONTH, SMOKING_ADVICE, PULMONARY_REHAB,
                                                      MSK_GROUPS)}


def get_scenario(key: str) -> Scenario:
    """The scenario for an intervention key, with a clear error for unknown keys."""
    try:
        return SCENARIOS[key]
    except KeyError:
        raise KeyError(f"no synthetic scenario for intervention '{key}'; known: "
                       f"{', '.join(sorted(SCENARIOS))}. Supply a real extract instead.") from None
