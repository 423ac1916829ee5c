console.log('seed-vc');
