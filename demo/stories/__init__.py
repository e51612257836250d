"""The chapters of the Soom demo story, told through each app's services as real pipelines, reviewers
and support agents would: `soom` holds the story's fixed facts, `people` its accounts,
`model_releases` the upsell model's training runs, versions and promotions, `data_audits` the
references, batch and serving-log audits, `support_desk` the support lists and an explanation.
Each chapter reports its progress through a `say(line)` callable."""
