"""The event contract: CloudEvents 1.0 structured-mode JSON, one typed model per event type.

Every input carries two times: ``time`` (when the thing happened) and the extension
attribute ``recordedtime`` (when it was entered in the source system). Late entries are a
known failure in custody records, so both are mandatory.

Child data is minimised by construction: identifiers are pseudonymous references (a
pattern that rejects spaces, so a name cannot pass as a ref), ages are whole years,
reasons are closed vocabularies rather than free text, and any field not declared here is
dropped on decoding and so never forwarded.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final, Literal

import msgspec

AwareDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]
"""A timestamp with an explicit UTC offset; a naive local time is ambiguous twice a year."""

REF_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$"
Ref = Annotated[
    str,
    msgspec.Meta(
        pattern=REF_PATTERN,
        description="Pseudonymous reference: letters, digits and . _ : / # - only, no spaces.",
    ),
]
AgeYears = Annotated[int, msgspec.Meta(ge=0, le=120, description="Age in whole years.")]
Count = Annotated[int, msgspec.Meta(ge=0, le=1000)]

Rank = Literal[
    "constable",
    "sergeant",
    "inspector",
    "chief_inspector",
    "superintendent",
    "chief_superintendent",
    "assistant_chief_constable",
    "deputy_chief_constable",
    "chief_constable",
]
ReviewMode = Literal["in_person", "telephone", "video"]
RiskLevel = Literal["very_low", "no_apparent_risk", "low", "medium", "high"]
"""The APP's continuum of risk. The 2017 APP's lowest level was "no apparent risk (absent)";
later revisions describe a "very low risk" level. Both are accepted: a force sends the words
its own procedure uses."""
IncidentGrade = Literal["emergency", "priority", "scheduled", "resolution_without_deployment"]
IncidentType = Literal[
    "domestic_abuse",
    "child_concern",
    "missing_person",
    "sexual_offence",
    "violence",
    "other",
]


class Data(msgspec.Struct, frozen=True, forbid_unknown_fields=False, omit_defaults=False):
    """Base of every event's ``data``. Unknown fields are dropped, never kept."""


# --------------------------------------------------------------------------- custody
class DetentionAuthorised(Data, frozen=True):
    relevant_time: AwareDatetime
    """PACE s.41(2): when the 24 h detention clock starts (usually arrival at the station)."""
    age_years: AgeYears | None
    """None: not known. Code C 1.5: a detainee who appears to be under 18 is treated as a
    child unless there is clear evidence that they are older, so an unknown age never
    silences a child's safeguards."""
    custody_suite: Ref
    appears_under_18: bool | None = None
    """Code C 1.5: the custody officer's judgement where the age is not known or disputed.
    True makes every child's rule apply whatever ``age_years`` says."""


class AppropriateAdultRequested(Data, frozen=True):
    pass


class AppropriateAdultArrived(Data, frozen=True):
    pass


class HealthcareRequested(Data, frozen=True):
    pass


class HealthcareSeen(Data, frozen=True):
    professional: Literal["nurse", "paramedic", "doctor", "other"] | None = None


class DetentionReviewCompleted(Data, frozen=True):
    mode: ReviewMode
    detainee_awake: bool
    detainee_spoken_to: bool
    reviewer_rank: Rank
    reviewer_ref: Ref | None = None
    live_link_available: bool | None = None
    """PACE s.40A(2): a review may be done by telephone only if a video (live link) review was
    not reasonably practicable. None: not recorded."""


class DetentionReviewPostponed(Data, frozen=True):
    reason: Literal["not_practicable", "detainee_being_questioned", "no_review_officer_available"]
    """PACE s.40(4) grounds. A postponed review keeps the original schedule."""


class InterviewStarted(Data, frozen=True):
    appropriate_adult_present: bool
    urgent_interview_authorised: bool = False
    """Code C 11.18: a superintendent's authority to interview a juvenile without an AA."""
    authorising_rank: Rank | None = None


class InterviewEnded(Data, frozen=True):
    pass


class DetentionExtended(Data, frozen=True):
    authorising_rank: Rank
    new_limit_hours: Annotated[int, msgspec.Meta(ge=24, le=36)] = 36
    by_live_link: bool = False
    """PACE s.45ZA: authorised by a superintendent not at the station, over a live link."""
    consent_of_child: bool | None = None
    consent_of_parent: bool | None = None
    """s.45ZA(2): a parent's or guardian's consent for a child under 18; the child's own as well from 14."""
    consent_in_presence_of_appropriate_adult: bool | None = None
    """s.45ZA(3): a 14-17-year-old's consent may only be given in the appropriate adult's presence."""


class WarrantOfFurtherDetention(Data, frozen=True):
    expires_at: AwareDatetime


class HospitalLeft(Data, frozen=True):
    purpose: Literal["medical", "investigative"]
    """PACE s.41(6): only medical hospital time stops the detention clock."""


class HospitalReturned(Data, frozen=True):
    questioned_at_hospital: bool


class Charged(Data, frozen=True):
    bail: Literal["granted", "refused"]
    appropriate_adult_present: bool | None = None
    """Code C 16.1: a child is charged in the appropriate adult's presence if the AA is at the station."""
    first_sitting_at: AwareDatetime | None = None
    """PACE s.46(2): a child kept for court is brought before the first sitting after charge; its
    time where the custody system knows it (else the force's local standard applies)."""


class CourtAppeared(Data, frozen=True):
    """Brought before the magistrates' court (after charge, or back from a remand to police cells)."""

    certificate_produced: bool | None = None
    """PACE s.38(7): a certificate under s.38(6) is produced to the court the child is first brought
    before. None: not recorded."""


class RemandedToPoliceDetention(Data, frozen=True):
    """A magistrates' court remanded the defendant back to police detention (MCA 1980 s.128(7))."""


class WelfarePersonInformed(Data, frozen=True):
    """CYPA 1933 s.34(2)-(3), Code C 3.13: the person responsible for the child's welfare told of the
    arrest, why, and where the child is held."""

    who: Literal["parent", "guardian", "local_authority", "other_responsible_person"] | None = None
    outcome: Literal["informed", "not_practicable"] = "informed"
    """s.34(3): told "unless it is not practicable to do so"; a recorded impracticability meets it."""


class ObservationLevelSet(Data, frozen=True):
    """The custody officer's observation level from the risk assessment (APP: 1 general, 2
    intermittent, 3 constant, 4 close proximity)."""

    level: Literal[1, 2, 3, 4]
    rousing_required: bool = False
    """Code C 9.3: intoxicated, or the level of consciousness causes concern: visited and roused."""


class CellVisitCompleted(Data, frozen=True):
    roused: bool = False
    """The detainee was roused and responded (Code C 9.3, Annex H)."""


class SearchConducted(Data, frozen=True):
    search: Literal["strip", "intimate"]
    appropriate_adult_present: bool
    absence_requested_and_agreed: bool = False
    """Code C Annex A 5 and 11(c): the child said, in the appropriate adult's presence, that they
    prefer the search without the AA, and the AA agreed."""


class LocalAuthorityAccommodationRequested(Data, frozen=True):
    secure: bool = False


class LocalAuthorityTransferCompleted(Data, frozen=True):
    pass


class ImpracticabilityCertificateIssued(Data, frozen=True):
    reason: Literal[
        "transport_unavailable",
        "travel_conditions",
        "no_secure_accommodation",
        "no_accommodation_offered",
        "other",
    ]
    """PACE s.38(6). Code C Note 16D: lack of secure accommodation alone is not a valid reason."""
    ground: Literal["impracticable", "public_protection"] = "impracticable"
    """Which certificate under PACE s.38(6): (a) ``impracticable``, by reason of circumstances
    the certificate specifies; or (b) ``public_protection``, for a child aged 12 or over, that
    no secure accommodation is available and other local authority accommodation would not
    protect the public from serious harm from the child (s.38(6A))."""


class ChildrensSocialCareNotified(Data, frozen=True):
    pass


class RestStarted(Data, frozen=True):
    pass


class RestEnded(Data, frozen=True):
    continuous_minutes: Annotated[int, msgspec.Meta(ge=0, le=10_000)]
    """Code C 12.2: length of the rest period just ended, free from questioning, travel or interruption."""


class Released(Data, frozen=True):
    outcome: Literal["no_further_action", "bail", "charged_bailed", "to_court", "transferred", "other"] | None = None


# --------------------------------------------------------------------------- police protection
ProtectionPlacement = Literal["local_authority_accommodation", "refuge", "hospital", "police_station", "other"]


class PoliceProtectionInitiated(Data, frozen=True):
    age_years: AgeYears
    initiating_officer_ref: Ref
    placement: ProtectionPlacement
    """Where the child was taken: s.46(3)(f) requires a move to local authority accommodation or a
    refuge from anywhere else; Home Office Circular 17/2008: a police station is not suitable."""
    area: Ref | None = None


class DesignatedOfficerAssigned(Data, frozen=True):
    officer_ref: Ref
    rank: Rank | None = None


class DesignatedOfficerReviewCompleted(Data, frozen=True):
    officer_ref: Ref
    decision: Literal["continue", "release"] | None = None


class DesignatedOfficerHandover(Data, frozen=True):
    """The designated officer's shift ends: the case passes to another designated officer."""

    from_officer_ref: Ref
    to_officer_ref: Ref | None = None


class LocalAuthorityInformed(Data, frozen=True):
    pass


class ParentsInformed(Data, frozen=True):
    method: Literal["in_person", "telephone", "other"] | None = None
    outcome: Literal["informed", "reasonable_steps_taken"] = "informed"
    """CA 1989 s.46(4): the duty is to take reasonably practicable steps to inform; recorded
    steps that did not reach anyone still meet it."""
    who: list[Literal["parents", "others_with_parental_responsibility", "person_child_was_living_with"]] = []
    """s.46(4)(a)-(c): whom this record covers."""


class StrategyDiscussionHeld(Data, frozen=True):
    pass


class ChildMoved(Data, frozen=True):
    """CA 1989 s.46(3)(f): the child moved to other accommodation while in police protection."""

    placement: ProtectionPlacement


class ChildInformed(Data, frozen=True):
    """CA 1989 s.46(3)(c): the child told of the steps taken, why, and what may follow."""

    capable_of_understanding: bool = True
    """False records that the child does not appear capable of understanding: the duty is then met."""


class WishesAndFeelingsRecorded(Data, frozen=True):
    """CA 1989 s.46(3)(d): reasonably practicable steps to discover the child's wishes and feelings."""

    outcome: Literal["recorded", "steps_taken"] = "recorded"


class EmergencyProtectionOrderApplied(Data, frozen=True):
    pass


class PoliceProtectionEnded(Data, frozen=True):
    reason: (
        Literal[
            "released_by_designated_officer",
            "emergency_protection_order_granted",
            "local_authority_accommodation",
            "returned_to_family",
            "other",
        ]
        | None
    ) = None
    """Optional in the contract so that an end without a recorded reason can be caught."""


# --------------------------------------------------------------------------- incidents
class IncidentCreated(Data, frozen=True):
    incident_type: IncidentType
    grade: IncidentGrade
    children_present: Count
    area: Ref | None = None
    children_linked: Count | None = None
    """Children linked to the household who may be victims (Domestic Abuse Act 2021 s.3),
    present or not: Operation Encompass covers every one of them."""


class CallEnded(Data, frozen=True):
    """The first call (the contact centre's first contact) ended: THRIVE belongs to that call."""


class ThriveRecorded(Data, frozen=True):
    risk_level: RiskLevel


class ThriveReassessed(Data, frozen=True):
    """A re-assessment of an incident still open ("re-THRIVE")."""

    risk_level: RiskLevel


class ResourceDeployed(Data, frozen=True):
    resource_ref: Ref


class ResourceArrived(Data, frozen=True):
    resource_ref: Ref


class PublicProtectionNoticeSubmitted(Data, frozen=True):
    ppn_ref: Ref | None = None


class PublicProtectionNoticeAuthorised(Data, frozen=True):
    """A supervisor reviewed and authorised the PPN (its risk grading and its recipients)."""

    ppn_ref: Ref | None = None
    supervisor_ref: Ref | None = None


class PublicProtectionNoticeShared(Data, frozen=True):
    ppn_ref: Ref | None = None
    recipient: Literal["childrens_social_care", "health", "education", "multi_agency_hub", "other"] = (
        "childrens_social_care"
    )


class OperationEncompassSent(Data, frozen=True):
    recipient: Literal["school", "local_authority"] = "school"


class IncidentClosed(Data, frozen=True):
    pass


# --------------------------------------------------------------------------- missing children
class ChildReportedMissing(Data, frozen=True):
    child_ref: Ref
    """The child, across episodes (the event subject names the episode)."""
    looked_after: bool
    risk_level: RiskLevel | None = None
    """None: reported, not yet risk-assessed."""
    next_review_at: AwareDatetime | None = None
    age_years: AgeYears | None = None
    area: Ref | None = None


class MissingRiskAssessed(Data, frozen=True):
    """The first risk assessment of an episode, when it was not made with the report."""

    risk_level: RiskLevel
    next_review_at: AwareDatetime


class MissingRiskReassessed(Data, frozen=True):
    risk_level: RiskLevel
    next_review_at: AwareDatetime


class InvestigationSupervisorAssigned(Data, frozen=True):
    officer_ref: Ref


class InvestigationSupervisorStoodDown(Data, frozen=True):
    officer_ref: Ref


class ChildFound(Data, frozen=True):
    outcome: Literal["returned", "found_safe", "found_harmed", "other"] = "found_safe"


class ChildReturned(Data, frozen=True):
    """The child is back at home or in the care setting (possibly some time after being found):
    the return interview's 72 hours run from here."""

    setting: Literal["home", "care_placement", "other"] | None = None


class PreventionInterviewCompleted(Data, frozen=True):
    """The police's own check on a found child (APP): separate from the local authority's return interview."""

    kind: Literal["prevention_interview", "safe_and_well_check"] = "prevention_interview"


class LocalAuthorityNotifiedOfReturn(Data, frozen=True):
    """The local authority told that the child is back, so that it can offer the return interview."""


class ReturnInterviewOffered(Data, frozen=True):
    pass


class ReturnInterviewDeclined(Data, frozen=True):
    pass


class ReturnInterviewCompleted(Data, frozen=True):
    pass


# --------------------------------------------------------------------------- investigations
CrimeType = Literal[
    "child_sexual_abuse",
    "child_sexual_exploitation",
    "online_child_sexual_abuse",
    "child_criminal_exploitation",
    "physical_abuse",
    "neglect",
    "emotional_abuse",
    "domestic_abuse",
    "other",
]
Specialism = Literal[
    "child_abuse_investigation",
    "online_child_abuse",
    "public_protection",
    "criminal_investigation",
    "response",
    "neighbourhood",
    "other",
]


class CrimeRecorded(Data, frozen=True):
    """A crime recorded with a child as its victim or a child at risk (the subject names the investigation)."""

    crime_type: CrimeType
    child_role: Literal["victim", "at_risk"]
    significant_harm_suspected: bool
    """Working Together: reasonable cause to suspect significant harm calls for a strategy discussion."""
    immediate_risk: bool = False
    child_ref: Ref | None = None
    area: Ref | None = None


class InvestigationAllocated(Data, frozen=True):
    team_ref: Ref
    specialism: Specialism


class InvestigationPlanRecorded(Data, frozen=True):
    pass


class SupervisoryReviewCompleted(Data, frozen=True):
    supervisor_ref: Ref | None = None
    supervisor_rank: Rank | None = None


class StrategyDiscussionRequested(Data, frozen=True):
    pass


class InvestigationStrategyDiscussionHeld(Data, frozen=True):
    section_47_decision: (
        Literal["section_47_enquiries", "child_in_need_assessment", "no_further_action", "other"] | None
    ) = None
    """Whether the strategy discussion decided on enquiries under Children Act 1989 s.47. None: not recorded."""


class VictimNeedsAssessmentCompleted(Data, frozen=True):
    pass


class VoiceOfTheChildRecorded(Data, frozen=True):
    """What the child said, felt or showed is on the record (the record says that it is, never what it is)."""


class EthnicityRecorded(Data, frozen=True):
    """The child's ethnicity and cultural heritage recorded on the force's systems (not the value itself)."""


class InvestigationClosed(Data, frozen=True):
    outcome: Literal["charged", "out_of_court_disposal", "evidential_difficulties", "no_crime", "other"] | None = None


# --------------------------------------------------------------------------- offender management
class ArmsAssessmentDue(Data, frozen=True):
    """A registered sex offender's ARMS assessment is due by the plan (the subject names the management case)."""

    next_assessment_due_at: AwareDatetime
    area: Ref | None = None


class ArmsAssessmentCompleted(Data, frozen=True):
    next_assessment_due_at: AwareDatetime | None = None
    """The next assessment's date under the plan. None: no further assessment planned."""


class HomeVisitPlanned(Data, frozen=True):
    next_visit_due_at: AwareDatetime
    area: Ref | None = None


class HomeVisitCompleted(Data, frozen=True):
    next_visit_due_at: AwareDatetime | None = None
    """The next visit's date under the plan. None: no further visit planned (reactive management)."""


class OffenderManagementEnded(Data, frozen=True):
    pass


Domain = Literal["custody", "protection", "incidents", "investigations"]

EVENT_TYPES: Final[dict[str, type[Data]]] = {
    # custody
    "custody.detention.authorised": DetentionAuthorised,
    "custody.appropriate_adult.requested": AppropriateAdultRequested,
    "custody.appropriate_adult.arrived": AppropriateAdultArrived,
    "custody.healthcare.requested": HealthcareRequested,
    "custody.healthcare.seen": HealthcareSeen,
    "custody.detention_review.completed": DetentionReviewCompleted,
    "custody.detention_review.postponed": DetentionReviewPostponed,
    "custody.interview.started": InterviewStarted,
    "custody.interview.ended": InterviewEnded,
    "custody.detention.extended": DetentionExtended,
    "custody.warrant_of_further_detention.issued": WarrantOfFurtherDetention,
    "custody.hospital.left": HospitalLeft,
    "custody.hospital.returned": HospitalReturned,
    "custody.charged": Charged,
    "custody.local_authority_accommodation.requested": LocalAuthorityAccommodationRequested,
    "custody.local_authority_accommodation.transfer_completed": LocalAuthorityTransferCompleted,
    "custody.impracticability_certificate.issued": ImpracticabilityCertificateIssued,
    "custody.childrens_social_care.notified": ChildrensSocialCareNotified,
    "custody.rest.started": RestStarted,
    "custody.rest.ended": RestEnded,
    "custody.released": Released,
    "custody.court.appeared": CourtAppeared,
    "custody.remanded_to_police_detention": RemandedToPoliceDetention,
    "custody.welfare_person.informed": WelfarePersonInformed,
    "custody.observation_level.set": ObservationLevelSet,
    "custody.cell_visit.completed": CellVisitCompleted,
    "custody.search.conducted": SearchConducted,
    # police protection
    "protection.police_protection.initiated": PoliceProtectionInitiated,
    "protection.designated_officer.assigned": DesignatedOfficerAssigned,
    "protection.designated_officer.review_completed": DesignatedOfficerReviewCompleted,
    "protection.designated_officer.handover": DesignatedOfficerHandover,
    "protection.local_authority.informed": LocalAuthorityInformed,
    "protection.parents.informed": ParentsInformed,
    "protection.strategy_discussion.held": StrategyDiscussionHeld,
    "protection.emergency_protection_order.applied": EmergencyProtectionOrderApplied,
    "protection.police_protection.ended": PoliceProtectionEnded,
    "protection.child.moved": ChildMoved,
    "protection.child.informed": ChildInformed,
    "protection.wishes_and_feelings.recorded": WishesAndFeelingsRecorded,
    # incidents
    "incident.created": IncidentCreated,
    "incident.call.ended": CallEnded,
    "incident.thrive.recorded": ThriveRecorded,
    "incident.thrive.reassessed": ThriveReassessed,
    "incident.resource.deployed": ResourceDeployed,
    "incident.resource.arrived": ResourceArrived,
    "incident.public_protection_notice.submitted": PublicProtectionNoticeSubmitted,
    "incident.public_protection_notice.authorised": PublicProtectionNoticeAuthorised,
    "incident.public_protection_notice.shared": PublicProtectionNoticeShared,
    "incident.operation_encompass.sent": OperationEncompassSent,
    "incident.closed": IncidentClosed,
    # missing children (an episode is an incident-domain case)
    "missing.child.reported": ChildReportedMissing,
    "missing.risk.assessed": MissingRiskAssessed,
    "missing.risk.reassessed": MissingRiskReassessed,
    "missing.supervisor.assigned": InvestigationSupervisorAssigned,
    "missing.supervisor.stood_down": InvestigationSupervisorStoodDown,
    "missing.child.found": ChildFound,
    "missing.child.returned": ChildReturned,
    "missing.return_interview.offered": ReturnInterviewOffered,
    "missing.return_interview.declined": ReturnInterviewDeclined,
    "missing.return_interview.completed": ReturnInterviewCompleted,
    "missing.prevention_interview.completed": PreventionInterviewCompleted,
    "missing.local_authority.notified": LocalAuthorityNotifiedOfReturn,
    # child protection investigations
    "investigation.crime.recorded": CrimeRecorded,
    "investigation.allocated": InvestigationAllocated,
    "investigation.plan.recorded": InvestigationPlanRecorded,
    "investigation.supervisory_review.completed": SupervisoryReviewCompleted,
    "investigation.strategy_discussion.requested": StrategyDiscussionRequested,
    "investigation.strategy_discussion.held": InvestigationStrategyDiscussionHeld,
    "investigation.public_protection_notice.submitted": PublicProtectionNoticeSubmitted,
    "investigation.public_protection_notice.authorised": PublicProtectionNoticeAuthorised,
    "investigation.public_protection_notice.shared": PublicProtectionNoticeShared,
    "investigation.victim_needs_assessment.completed": VictimNeedsAssessmentCompleted,
    "investigation.voice_of_the_child.recorded": VoiceOfTheChildRecorded,
    "investigation.ethnicity.recorded": EthnicityRecorded,
    "investigation.closed": InvestigationClosed,
    # offender management (registered sex offenders; an investigations-domain case)
    "offender.arms_assessment.due": ArmsAssessmentDue,
    "offender.arms_assessment.completed": ArmsAssessmentCompleted,
    "offender.home_visit.planned": HomeVisitPlanned,
    "offender.home_visit.completed": HomeVisitCompleted,
    "offender.management.ended": OffenderManagementEnded,
}

EVENT_LABELS: Final[dict[str, str]] = {
    # custody
    "custody.detention.authorised": "detention authorised",
    "custody.appropriate_adult.requested": "appropriate adult requested",
    "custody.appropriate_adult.arrived": "appropriate adult arrived",
    "custody.healthcare.requested": "health care professional requested",
    "custody.healthcare.seen": "seen by a health care professional",
    "custody.detention_review.completed": "detention review",
    "custody.detention_review.postponed": "detention review postponed",
    "custody.interview.started": "interview started",
    "custody.interview.ended": "interview ended",
    "custody.detention.extended": "superintendent's extension of detention",
    "custody.warrant_of_further_detention.issued": "warrant of further detention issued",
    "custody.hospital.left": "left for hospital",
    "custody.hospital.returned": "returned from hospital",
    "custody.charged": "charged",
    "custody.local_authority_accommodation.requested": "local authority accommodation requested",
    "custody.local_authority_accommodation.transfer_completed": "transferred to local authority accommodation",
    "custody.impracticability_certificate.issued": "certificate that transfer is impracticable",
    "custody.childrens_social_care.notified": "children's social care notified",
    "custody.rest.started": "rest period started",
    "custody.rest.ended": "rest period ended",
    "custody.released": "released from custody",
    "custody.court.appeared": "brought before the court",
    "custody.remanded_to_police_detention": "remanded by the court to police detention",
    "custody.welfare_person.informed": "person responsible for the child's welfare informed",
    "custody.observation_level.set": "observation level set",
    "custody.cell_visit.completed": "cell visit",
    "custody.search.conducted": "strip or intimate search",
    # protection
    "protection.police_protection.initiated": "police protection started",
    "protection.designated_officer.assigned": "designated officer assigned",
    "protection.designated_officer.review_completed": "designated officer's review",
    "protection.designated_officer.handover": "designated officer handover",
    "protection.local_authority.informed": "local authority informed",
    "protection.parents.informed": "parents informed",
    "protection.strategy_discussion.held": "strategy discussion held",
    "protection.emergency_protection_order.applied": "emergency protection order applied for",
    "protection.police_protection.ended": "police protection ended",
    "protection.child.moved": "child moved to other accommodation",
    "protection.child.informed": "child told what is happening and why",
    "protection.wishes_and_feelings.recorded": "child's wishes and feelings sought",
    # incidents
    "incident.created": "incident created",
    "incident.call.ended": "first call ended",
    "incident.thrive.recorded": "THRIVE risk assessment recorded",
    "incident.thrive.reassessed": "THRIVE risk re-assessed",
    "incident.resource.deployed": "officers deployed",
    "incident.resource.arrived": "officers arrived",
    "incident.public_protection_notice.submitted": "public protection notice submitted",
    "incident.public_protection_notice.authorised": "public protection notice authorised by a supervisor",
    "incident.public_protection_notice.shared": "public protection notice shared",
    "incident.operation_encompass.sent": "Operation Encompass notification sent",
    "incident.closed": "incident closed",
    # missing children
    "missing.child.reported": "child reported missing",
    "missing.risk.assessed": "missing-person risk assessed",
    "missing.risk.reassessed": "missing-person risk reassessed",
    "missing.supervisor.assigned": "investigation supervisor assigned",
    "missing.supervisor.stood_down": "investigation supervisor stood down",
    "missing.child.found": "child found",
    "missing.child.returned": "child back at home or in care",
    "missing.return_interview.offered": "return interview offered",
    "missing.return_interview.declined": "return interview declined by the child",
    "missing.return_interview.completed": "return interview completed",
    "missing.prevention_interview.completed": "prevention interview or safe-and-well check",
    "missing.local_authority.notified": "local authority told of the return",
    # investigations
    "investigation.crime.recorded": "crime recorded with a child victim or child at risk",
    "investigation.allocated": "investigation allocated",
    "investigation.plan.recorded": "investigation plan recorded",
    "investigation.supervisory_review.completed": "supervisor's review of the investigation",
    "investigation.strategy_discussion.requested": "strategy discussion requested",
    "investigation.strategy_discussion.held": "strategy discussion held",
    "investigation.public_protection_notice.submitted": "public protection notice submitted",
    "investigation.public_protection_notice.authorised": "public protection notice authorised by a supervisor",
    "investigation.public_protection_notice.shared": "public protection notice shared",
    "investigation.victim_needs_assessment.completed": "victim's needs assessed",
    "investigation.voice_of_the_child.recorded": "voice of the child recorded",
    "investigation.ethnicity.recorded": "ethnicity and cultural heritage recorded",
    "investigation.closed": "investigation closed",
    # offender management
    "offender.arms_assessment.due": "ARMS assessment due",
    "offender.arms_assessment.completed": "ARMS assessment completed",
    "offender.home_visit.planned": "home visit planned",
    "offender.home_visit.completed": "home visit completed",
    "offender.management.ended": "offender management ended",
}
"""What people read for each event type, in alerts, timelines and the console: plain words,
never the type id. Kept next to the contract so a new type cannot arrive without one."""


def event_label(event_type: str) -> str:
    return EVENT_LABELS.get(event_type, event_type)


_DOMAIN_OF_PREFIX: Final[dict[str, Domain]] = {
    "custody": "custody",
    "protection": "protection",
    "incident": "incidents",
    "missing": "incidents",
    "investigation": "investigations",
    "offender": "investigations",
}
DOMAINS: Final[tuple[Domain, ...]] = ("custody", "protection", "incidents", "investigations")


def domain_of(event_type: str) -> Domain:
    """The input topic's domain for an event type (missing episodes travel with incidents; the
    public protection unit's offender management travels with its investigations)."""
    return _DOMAIN_OF_PREFIX[event_type.split(".", 1)[0]]


class Event(msgspec.Struct, frozen=True):
    """A validated input event. ``data`` is the typed model for ``type``."""

    id: str
    source: str
    type: str
    subject: str
    time: dt.datetime
    recordedtime: dt.datetime
    data: Data

    def to_cloudevent(self) -> dict[str, Any]:
        """The event as the structured-mode JSON object it was (minus dropped fields)."""
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "recordedtime": self.recordedtime.isoformat(),
            "datacontenttype": "application/json",
            "data": msgspec.to_builtins(self.data),
        }
