/// Placeholder until the module has content.
package enum LedgerModule {}
