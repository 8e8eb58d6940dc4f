import {
  BadRequestException,
  HttpException,
  ValidationPipe,
  type ArgumentMetadata,
  type Type,
} from '@nestjs/common';

/**
 * For one DTO, the instance the full validation would make of a value it can vouch for, or
 * undefined to leave the value to the full validation.
 */
export type ValidationShortcut = (value: unknown) => object | undefined;

/**
 * The global ValidationPipe (whitelist, unknown properties rejected, transform), made safe against
 * hostile bodies: class-transformer can throw on shapes it cannot walk (thousands of nested
 * arrays overflow its recursion), and that must be the client's 400, not the server's 500.
 * `shortcuts` skip class-transformer and class-validator for bodies of a DTO that a plain check
 * knows to be valid (a hot route's usual request); everything else is validated in full.
 */
export class RequestValidationPipe extends ValidationPipe {
  constructor(private readonly shortcuts: ReadonlyMap<Type, ValidationShortcut> = new Map()) {
    super({ whitelist: true, forbidNonWhitelisted: true, transform: true });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const shortcut = metadata.type === 'body' ? this.shortcuts.get(metadata.metatype!) : undefined;
    const valid = shortcut?.(value);
    if (valid !== undefined) return valid;
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      if (error instanceof HttpException) throw error;
      throw new BadRequestException('The request body could not be validated (too deeply nested?)');
    }
  }
}
