"""On-call delivery: tenant alerts → PagerDuty Events v2 and Slack, paging once per incident."""
