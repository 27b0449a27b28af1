import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', 'bin/**']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      'no-console': 'off',
    },
  },
  {
    // Tests read kubectl's JSON and the CLI's --json documents loosely.
    files: ['test/**/*.ts'],
    rules: {'@typescript-eslint/no-explicit-any': 'off', 'no-control-regex': 'off'},
  },
  {
    // The engine must not know about oclif (STYLE.md): commands/ are the only place that imports it.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {patterns: ['@oclif/*']}],
      'no-restricted-properties': ['error', {object: 'process', property: 'exit', message: 'return an exit code instead'}],
    },
  },
)
