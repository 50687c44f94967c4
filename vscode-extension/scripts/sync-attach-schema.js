// Writes configurationAttributes.attach in package.json as a copy of configurationAttributes.launch.
//
// kdap takes the same arguments in an `attach` request as in a `launch` request; the two differ only in what
// VS Code's Stop button sends (terminate for launch, which would end a process kdap attached to). VS Code reads
// the contribution as written, with no reference from one request's schema to another, so package.json holds
// both. Edit `launch`, run `npm run sync-schema`; test/schema.test.ts fails when the two differ.

'use strict';

const fs = require('fs');
const path = require('path');

const file = path.join(__dirname, '..', 'package.json');
const text = fs.readFileSync(file, 'utf8');
const pkg = JSON.parse(text);
const attributes = pkg.contributes.debuggers[0].configurationAttributes;
attributes.attach = JSON.parse(JSON.stringify(attributes.launch));
const updated = JSON.stringify(pkg, null, 2) + '\n';
if (updated !== text) {
  fs.writeFileSync(file, updated);
  console.log('package.json: configurationAttributes.attach is now a copy of configurationAttributes.launch');
}
