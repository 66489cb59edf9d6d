/// Placeholder until the module has content.
package enum RulesModule {}
