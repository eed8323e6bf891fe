"""Tests of the pure logic of funding calls: eligibility, consortium rules, group builder."""
