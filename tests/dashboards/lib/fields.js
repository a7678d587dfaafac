'use strict';
// The explicit allow-list of event fields a shipped search may read. Every name here comes from
// a source outside the dashboards: the contract (shared/contract.md §2, §3), the parsing
// engineer's agreed names (webhook fields, CIM fields, eventtypes), or Splunk itself.
// A search reading any other field fails the test: a typo (clientid, interview_id) or a field no
// event carries would otherwise show up only as an empty panel.

// Onboarding-status webhooks (sourcetype incode:onboarding).
const ONBOARDING = [
  'interviewId', 'onboardingStatus', 'clientId', 'flowId', 'externalCustomerId', 'externalId',
  'interviewIds{}', // DELETED carries the deleted sessions as an array
];

// Session webhooks (sourcetype incode:session).
const SESSION = [
  'event_type', 'timestamp', 'interviewId', 'clientId', 'flowId', 'configurationId',
  'externalCustomerId', 'identityId', 'ip', 'latitude', 'longitude',
];

// Enrichment events written by the modular input (sourcetype incode:score, contract §2).
const SCORE = [
  'interviewId', 'clientId', 'flowId', 'externalCustomerId', 'trigger', 'enrichment_status', 'error',
  'overall_status', 'overall_score',
  'id_validation_status', 'id_validation_score', 'liveness_status', 'liveness_score',
  'face_recognition_status', 'face_recognition_score', 'government_validation_status', 'government_validation_score',
  'failed_checks{}', 'reasonMsg', 'score', 'enriched_at',
];

// CIM fields and eventtypes added at search time by props/eventtypes (parsing branch).
const CIM = ['action', 'app', 'vendor', 'vendor_product', 'user', 'src', 'dest', 'signature', 'session_id'];

// Further search-time fields of the parsing branch's props.conf that shipped searches use:
// failed_checks (FIELDALIAS of failed_checks{} on incode:score; also an output of the
// incode_scores automatic lookup on webhook events).
const PROPS = ['failed_checks'];

// Splunk's own fields on every event.
const SPLUNK = ['_time', '_indextime', '_raw', 'index', 'sourcetype', 'source', 'host', 'splunk_server', 'eventtype', 'tag', 'linecount'];

// splunkd's own extractions on index=_internal sourcetype=splunkd (the add-on's log lines).
const SPLUNKD = ['component', 'log_level', 'event_message'];

// Splunk's audit events of fired alerts (index=_audit action=alert_fired), which the Incode risk
// dashboard reads through `incode_fired_alerts`.
const AUDIT = ['action', 'ss_app', 'ss_name', 'ss_user', 'severity', 'sid', 'trigger_time', 'expiration', 'user'];

// Enterprise Security's risk events (index=risk), written by the Risk Analysis action and read
// through `incode_risk_events`: the action's fields, and the detection's own result fields.
const RISK = ['risk_object', 'risk_object_type', 'risk_score', 'risk_message', 'threat_object', 'threat_object_type', 'search_name'];

const INCODE_EVENT_FIELDS = [...new Set([...ONBOARDING, ...SESSION, ...SCORE, ...CIM, ...PROPS, ...SPLUNK])];
const INTERNAL_EVENT_FIELDS = [...new Set([...SPLUNK, ...SPLUNKD])];
const AUDIT_EVENT_FIELDS = [...new Set([...SPLUNK, ...AUDIT])];
const RISK_EVENT_FIELDS = [...new Set([...SPLUNK, ...RISK])];

module.exports = {
  ONBOARDING, SESSION, SCORE, CIM, PROPS, SPLUNK, SPLUNKD, AUDIT, RISK,
  INCODE_EVENT_FIELDS, INTERNAL_EVENT_FIELDS, AUDIT_EVENT_FIELDS, RISK_EVENT_FIELDS,
};
