"""StudentStatus and Admission: MESRI student status through API Particulier."""

from __future__ import annotations

import datetime

import strawberry

from citizen_graph.records import Admission as AdmissionRecord
from citizen_graph.records import StudentStatus as StudentStatusRecord


@strawberry.type
class Admission:
    start_date: datetime.date | None
    end_date: datetime.date | None
    enrolled: bool | None
    training_regime: str | None
    institution_name: str | None
    institution_uai: str | None
    city_code: str | None

    @classmethod
    def from_record(cls, admission: AdmissionRecord) -> Admission:
        return cls(
            start_date=admission.start_date,
            end_date=admission.end_date,
            enrolled=admission.enrolled,
            training_regime=admission.training_regime,
            institution_name=admission.institution_name,
            institution_uai=admission.institution_uai,
            city_code=admission.city_code,
        )


@strawberry.type(description="Student status (MESRI).")
class StudentStatus:
    enrolled: bool | None = strawberry.field(
        description="Enrolled in at least one admission current today."
    )
    admissions: list[Admission] | None

    @classmethod
    def from_record(
        cls, status: StudentStatusRecord, today: datetime.date
    ) -> StudentStatus:
        return cls(
            enrolled=status.enrolled_on(today),
            admissions=[Admission.from_record(a) for a in status.admissions],
        )
