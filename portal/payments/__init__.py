"""The payment service of the host platform: provider-agnostic orders, refunds and a ledger (store.py,
service.py), WeChat Pay and Alipay behind one interface (providers/), the shopper's pages and the
providers' callbacks (views.py), the daily reconciliation report (reconcile.py). The local payment sandbox
that stands in for both providers is portal/paysandbox/."""
