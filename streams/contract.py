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


class WarrantOfFurtherDetention(Data, frozen=True):
    expires_at: AwareDatetime


class HospitalLeft(Data, frozen=True):
    purpose: Literal["medical", "investigative"]
    """PACE s.41(6): only medical hospital time stops the detention clock."""


class HospitalReturned(Data, frozen=True):
    questioned_at_hospital: bool


class Charged(Data, frozen=True):
    bail: Literal["granted", "refused"]


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
class PoliceProtectionInitiated(Data, frozen=True):
    age_years: AgeYears
    initiating_officer_ref: Ref
    placement: Literal["local_authority_accommodation", "refuge", "hospital", "police_station", "other"]
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


class ThriveRecorded(Data, frozen=True):
    risk_level: RiskLevel


class ResourceDeployed(Data, frozen=True):
    resource_ref: Ref


class ResourceArrived(Data, frozen=True):
    resource_ref: Ref


class PublicProtectionNoticeSubmitted(Data, frozen=True):
    ppn_ref: Ref | None = None


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


class ReturnInterviewOffered(Data, frozen=True):
    pass


class ReturnInterviewDeclined(Data, frozen=True):
    pass


class ReturnInterviewCompleted(Data, frozen=True):
    pass


Domain = Literal["custody", "protection", "incidents"]

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
    # incidents
    "incident.created": IncidentCreated,
    "incident.thrive.recorded": ThriveRecorded,
    "incident.resource.deployed": ResourceDeployed,
    "incident.resource.arrived": ResourceArrived,
    "incident.public_protection_notice.submitted": PublicProtectionNoticeSubmitted,
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
    # incidents
    "incident.created": "incident created",
    "incident.thrive.recorded": "THRIVE risk assessment recorded",
    "incident.resource.deployed": "officers deployed",
    "incident.resource.arrived": "officers arrived",
    "incident.public_protection_notice.submitted": "public protection notice submitted",
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
}
DOMAINS: Final[tuple[Domain, ...]] = ("custody", "protection", "incidents")


def domain_of(event_type: str) -> Domain:
    """The input topic's domain for an event type (missing episodes travel with incidents)."""
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
